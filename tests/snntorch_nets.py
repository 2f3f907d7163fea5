"""snnTorch networks shared by the export tests (imported only where snnTorch is installed)."""

from __future__ import annotations

import snntorch as snn
from torch import nn


class SnnResidual(nn.Module):
    """Linear → Leaky, a residual addition of spike trains around Linear → Leaky (zero
    reset), then Linear → RLeaky (a recurrent output layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.l1 = snn.Leaky(beta=0.8, init_hidden=True)
        self.fc2 = nn.Linear(20, 20)
        self.l2 = snn.Leaky(beta=0.7, init_hidden=True, reset_mechanism="zero")
        self.fc3 = nn.Linear(20, 6)
        self.l3 = snn.RLeaky(beta=0.9, linear_features=6, init_hidden=True, output=True)

    def forward(self, x):
        a = self.l1(self.fc1(x))
        return self.l3(self.fc3(a + self.l2(self.fc2(a))))
