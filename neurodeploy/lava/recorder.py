"""One Lava process that records many ports and variables into memory-mapped files.

Lava's ``Monitor`` takes one probe per process and its data come back through ``Var.get``, which
lava-nc 0.10 transfers one element per channel message (``runtime.get_var``): reading 500 k
recorded values took longer than running the network. The recorder here is one process with one
InPort per recorded OutPort (spikes, synapse outputs) and one RefPort per recorded Var (``u``,
``v``, read in the post-management phase like ``Monitor``), writing step ``k`` of every probe into
row ``k`` of an ``.npy`` memory map that the caller reads after the run. Lava runs models in
forked OS processes, so the classes are made per network (their ports depend on the probes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class RecorderBase(AbstractProcess):
    """Records ``ports`` (OutPorts) and ``variables`` (Vars) every step into ``paths``."""

    def __init__(self, *, ports: list[Any], variables: list[Any], paths: list[str],
                 num_steps: int, name: str = "recorder") -> None:
        super().__init__(paths=list(paths), num_steps=int(num_steps), n_in=len(ports),
                         n_ref=len(variables), name=name)
        for i, port in enumerate(ports):
            setattr(self, f"in_{i}", InPort(shape=port.shape))
        for i, var in enumerate(variables):
            setattr(self, f"ref_{i}", RefPort(shape=var.shape))


class PyRecorderBase(PyLoihiProcessModel):
    """Writes every probe's value of step k into row k of its memory map."""

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        self._maps: list[np.ndarray] | None = None

    def _open(self) -> list[np.ndarray]:
        if self._maps is None:
            self._maps = [np.load(p, mmap_mode="r+") for p in self.proc_params["paths"]]
        return self._maps

    def run_spk(self) -> None:
        maps = self._open()
        k = (self.time_step - 1) % self.proc_params["num_steps"]
        for i in range(self.proc_params["n_in"]):
            maps[i][k] = getattr(self, f"in_{i}").recv()

    def post_guard(self) -> bool:
        return self.proc_params["n_ref"] > 0

    def run_post_mgmt(self) -> None:
        maps = self._open()
        k = (self.time_step - 1) % self.proc_params["num_steps"]
        n_in = self.proc_params["n_in"]
        for i in range(self.proc_params["n_ref"]):
            maps[n_in + i][k] = getattr(self, f"ref_{i}").read()


def make_recorder(ports: list[Any], variables: list[Any], directory: Path,
                  num_steps: int, mode: str = "fixed") -> tuple[AbstractProcess, type, list[Path]]:
    """A recorder process for ``ports`` then ``variables``, its model class, and the ``.npy``
    files (one per probe, ``[num_steps, *shape]``, zeros) it fills.

    ``mode``: ``fixed`` (int32 ports, int64 files, tag ``fixed_pt``) or ``float`` (float64
    ports and files, tag ``floating_pt``) — the tag must match the run configuration's.
    """
    fixed = mode == "fixed"
    ptype: Any = np.int32 if fixed else float
    proc_cls = type("Recorder", (RecorderBase,), {})
    attrs: dict[str, Any] = {f"in_{i}": LavaPyType(PyInPort.VEC_DENSE, ptype)
                             for i in range(len(ports))}
    attrs.update({f"ref_{i}": LavaPyType(PyRefPort.VEC_DENSE, ptype)
                  for i in range(len(variables))})
    model_cls = type("PyRecorder", (PyRecorderBase,), attrs)
    model_cls = implements(proc=proc_cls, protocol=LoihiProtocol)(model_cls)
    model_cls = requires(CPU)(model_cls)
    model_cls = tag("fixed_pt" if fixed else "floating_pt")(model_cls)
    paths = []
    for i, target in enumerate(list(ports) + list(variables)):
        path = directory / f"probe_{i}.npy"
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.int64 if fixed else np.float64,
                                       shape=(num_steps,) + tuple(target.shape))
        del mm
        paths.append(path)
    proc = proc_cls(ports=ports, variables=variables, paths=[str(p) for p in paths],
                    num_steps=num_steps)
    for i, port in enumerate(ports):
        port.connect(getattr(proc, f"in_{i}"))
    for i, var in enumerate(variables):
        getattr(proc, f"ref_{i}").connect_var(var)
    return proc, model_cls, paths
