"""neurodeploy: spiking neural networks from PyTorch to Loihi, with numbers you can check.

The path of one model: converters (-> ``neurodeploy.ir.Graph``) -> ``quantize`` -> ``mapping``
-> ``sim`` / ``lava`` -> ``energy`` -> ``report`` -> ``deploy``. Each step is a plain function on
plain data; the ``neurodeploy`` CLI is a thin layer over them. Importing this package is cheap
(numpy only): torch, h5py and Lava are imported by the modules that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from neurodeploy.errors import NeurodeployError

__all__ = ["NeurodeployError", "__version__"]
