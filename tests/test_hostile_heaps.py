"""A damaged HDF5 global heap (where variable-length strings live) makes the HDF5 library loop
forever (``H5HG__cache_heap_deserialize`` never checks that a free-space object of size 0
advances). The four mutants of the seed-1 fuzz run that hung (tools/fuzz_open_cases/) and
generated ones of each HDF5 format are refused at once, in one line naming the file, the
dataset (group and field) whose value lives there and the fault; a reading child never
outlives its parent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from neurodeploy.converters import convert_file
from test_lava_cases import mlp_graph, netx_ready

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import load_graph, save_graph
from neurodeploy.ir.io import _write_header
from neurodeploy.safeload import check_global_heaps

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tools" / "fuzz_open_cases"
HEAP_FAULT = "global heap at byte {at}: its free-space object at byte {obj} has size 0"


@pytest.mark.parametrize("name,where,at,obj", [
    ("case742.net", "/layer/1/neuron/type", 2048, 2080),
    ("case2841.nir", "/node/nodes/lif1/metadata/neurodeploy.kind", 2064, 2504),
    ("case8936.nir", "/node/nodes/in/type", 2064, 2432),
    ("case9211.nir", "/node/metadata/neurodeploy.metadata", 2064, 2296),
])
def test_the_seed_1_fuzz_hangs_are_refused_naming_the_field(name: str, where: str, at: int,
                                                            obj: int) -> None:
    """Each hung past the fuzz run's 60 s (the reading child's own limit is 120 s)."""
    path = CASES / name
    with pytest.raises(NeurodeployError) as info:
        convert_file(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {where}: its variable-length value lives in a damaged "
                           f"HDF5 {HEAP_FAULT.format(at=at, obj=obj)}"), text


def _zero_free_space(path: Path, resign: bool = False) -> int:
    """Zero the first object header of ``path``'s global heap: HDF5 reads it as free space of
    size 0. Returns the heap's byte offset."""
    data = bytearray(path.read_bytes())
    at = data.find(b"GCOL")
    assert at > 0
    data[at + 16:at + 48] = bytes(32)
    path.write_bytes(bytes(data))
    if resign:
        _write_header(path)
    return at


def test_a_resigned_ndg_with_a_looping_heap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.ndg"
    save_graph(mlp_graph(), path)
    at = _zero_free_space(path, resign=True)  # the checksum is recomputed: a crafted file
    with pytest.raises(NeurodeployError) as info:
        load_graph(path, timeout=60)
    assert str(info.value) == (
        f"{path}: an attribute's text: its variable-length value lives in a damaged HDF5 "
        f"{HEAP_FAULT.format(at=at, obj=at + 16)}, on which the HDF5 library loops forever; "
        "refused")


def test_generated_nir_and_netx_heap_damage_is_refused(tmp_path: Path) -> None:
    from neurodeploy.converters.nir import write_nir

    from neurodeploy.lava.netx import export_netx

    g = netx_ready(mlp_graph())
    nir_path, net_path = tmp_path / "m.nir", tmp_path / "m.net"
    write_nir(g, nir_path)
    export_netx(g, net_path, exact=True)
    for path in (nir_path, net_path):
        convert_file(path)  # intact: the check passes a file HDF5 wrote
        at = _zero_free_space(path)
        with pytest.raises(NeurodeployError, match=rf"^{re.escape(str(path))}: /\S+: its "
                                                   rf"variable-length value .* heap at byte "
                                                   rf"{at}: .* size 0"):
            convert_file(path)


def test_an_object_past_its_collection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f["g/text"] = "hello"
        f["g/values"] = np.arange(3)
    data = bytearray(path.read_bytes())
    at = data.find(b"GCOL")
    data[at + 24:at + 32] = (1 << 40).to_bytes(8, "little")  # object 1's size
    path.write_bytes(bytes(data))
    with h5py.File(path, "r") as f, pytest.raises(
            NeurodeployError, match=rf"s\.h5: /g/text: .* heap at byte {at}: object 1 at byte "
                                    rf"{at + 16} declares {1 << 40} bytes, past the "
                                    r"collection's 4096; refused$"):
        check_global_heaps(f, path)


def test_a_stray_signature_in_data_is_not_a_heap(tmp_path: Path) -> None:
    """Weights whose bytes spell "GCOL" are data: only a version-1 collection of at least
    HDF5's 4096 bytes that fits in the file is walked."""
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f["w"] = np.frombuffer(b"GCOL\x01\0\0\0" + bytes(56), np.uint8)
    with h5py.File(path, "r") as f:
        check_global_heaps(f, path)
        assert f["w"][:4].tobytes() == b"GCOL"


def test_a_reading_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A parent killed while it waits (its own time limit never runs then) left the child
    spinning in the HDF5 library: the child now ends with it."""
    script = tmp_path / "spin.py"
    script.write_text(
        "import os\nfrom pathlib import Path\nfrom neurodeploy.safeload import in_child\n"
        "def spin():\n    print(os.getpid(), flush=True)\n    while True:\n        pass\n"
        "in_child(spin, Path('x'), 600.0)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())  # type: ignore[union-attr]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state in ("Z", "X"):
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail(f"reading child {child} outlived its killed parent")
