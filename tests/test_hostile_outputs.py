"""Nothing the user gives us is lost: no verb writes over its input (through links too),
``deploy --force`` replaces only a bundle neurodeploy wrote and swaps it in so that a crash at
any filesystem step leaves the complete old or new bundle, and ``deploy --verify`` detects a
change of any byte of any bundle file, the manifest included."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_deploy import _npz
from test_lava_cases import mlp_graph, netx_ready

from neurodeploy.cli.main import main
from neurodeploy.deploy import install as inst
from neurodeploy.deploy.manifest import verify_manifest, write_manifest
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import save_graph


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error(capsys: pytest.CaptureFixture, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: "), err
    assert "internal error" not in err[0]
    return err[0]


@pytest.fixture()
def qmodel(tmp_path: Path) -> Path:
    path = tmp_path / "w" / "m.q.ndg"
    path.parent.mkdir()
    save_graph(netx_ready(mlp_graph()), path)
    return path


def test_no_verb_writes_over_its_input(qmodel: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    before = _digest(qmodel)
    link = tmp_path / "link.ndg"
    link.symlink_to(qmodel)
    data = str(_npz(mlp_graph(), tmp_path))
    cases = [
        (["export", str(qmodel), "-o", str(qmodel)], "-o/--output"),
        (["export", str(qmodel), "-o", str(link)], "-o/--output"),  # through a link
        (["quantize", str(qmodel), "--calib", data, "-o", str(qmodel)], "-o/--output"),
        (["quantize", str(qmodel), "--calib", data, "-o", data], "-o/--output"),
        (["energy", str(qmodel), "--data", data, "--html", str(link)], "--html"),
        (["map", str(qmodel), "--html", str(qmodel)], "--html"),
        (["deploy", str(qmodel), "-o", str(qmodel.parent), "--force", "--data", data],
         "-o/--output"),
        (["deploy", str(link), "-o", str(qmodel.parent), "--force", "--data", data],
         "-o/--output"),
    ]
    for argv, option in cases:
        line = _one_error(capsys, main(argv))
        assert line.startswith(f"error: {option} ") and "the input" in line, line
        assert _digest(qmodel) == before and link.is_symlink()
    assert sorted(p.name for p in qmodel.parent.iterdir()) == ["m.q.ndg"]


def test_force_replaces_only_a_bundle_neurodeploy_wrote(qmodel: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    data = str(_npz(mlp_graph(), tmp_path))
    out = tmp_path / "bundle"
    base = ["deploy", str(qmodel), "-o", str(out), "--data", data, "--samples", "2"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    line = _one_error(capsys, main([*base[:3], str(mine), *base[4:], "--force"]))
    assert "no neurodeploy manifest.json" in line
    assert (mine / "notes.txt").read_text() == "keep me"
    assert main(base) == 0
    first = (out / "manifest.json").read_bytes()
    (out / "results.json").write_text("{}")  # a run output: replaceable
    assert main([*base, "--force"]) == 0 and verify_manifest(out) == []
    assert (out / "manifest.json").read_bytes() == first  # bundles are reproducible
    assert not (out / "results.json").exists()  # the old bundle was replaced whole
    (out / "my_notes.txt").write_text("mine")  # a user's file in the bundle: refused
    line = _one_error(capsys, main([*base, "--force"]))
    assert "1 file(s) its manifest does not list (first: my_notes.txt)" in line
    assert (out / "my_notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if ".nd-" in p.name]


def _bundle(path: Path, tag: str) -> Path:
    path.mkdir(exist_ok=True)
    (path / "a.txt").write_text(f"{tag} a\n")
    (path / "sub").mkdir()
    (path / "sub" / "b.bin").write_bytes(bytes(range(7)) + tag.encode())
    write_manifest(path, {"model": tag})
    return path


class Crash(BaseException):
    """A kill: nothing after it runs (not even ``except Exception`` handlers)."""


@pytest.mark.parametrize("exchange", [True, False])
def test_force_swap_crashed_at_each_step_leaves_old_or_new(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           exchange: bool) -> None:
    """Each filesystem step of :func:`install` is made to crash in turn; the output then holds
    the complete old or new bundle, and the next run's clean-up leaves only that."""
    real = {"replace": inst.os.replace, "rmtree": inst.shutil.rmtree, "exchange": inst._exchange}
    steps = 2 if exchange else 3  # exchange, rmtree | replace(aside), replace(in), rmtree
    for crash_at in range(steps + 1):
        root = tmp_path / f"case{crash_at}"
        root.mkdir()
        out = _bundle(root / "out", "old")
        tmp = _bundle(inst.temp_dir(out), "new")
        count = [0]

        def step(name: str, *args: object, crash_at: int = crash_at,
                 count: list[int] = count) -> object:
            count[0] += 1
            if count[0] == crash_at:
                raise Crash(name)
            return real[name](*args)

        monkeypatch.setattr(inst, "_exchange", (lambda a, b: step("exchange", a, b))
                            if exchange else (lambda a, b: False))
        monkeypatch.setattr(inst.os, "replace", lambda a, b: step("replace", a, b))
        monkeypatch.setattr(inst.shutil, "rmtree", lambda p, **k: step("rmtree", p))
        try:
            inst.install(tmp, out)
            crashed = False
        except Crash:
            crashed = True
        monkeypatch.undo()
        assert crashed == (crash_at > 0)
        inst.clean_leftovers(out)  # the next run
        assert verify_manifest(out) == []
        tag = json.loads((out / "manifest.json").read_text())["model"]
        assert tag in ("old", "new")
        if crash_at == 0:
            assert tag == "new"
        assert sorted(p.name for p in root.iterdir()) == ["out"], (crash_at, exchange)


def test_verify_detects_every_byte_change_of_every_file(tmp_path: Path) -> None:
    """Each byte of each file (manifest included) is changed, one at a time, to two other
    values; verify_manifest must report a problem or refuse the manifest every time."""
    out = _bundle(tmp_path / "b", "t")
    assert verify_manifest(out) == []
    files = [p for p in sorted(out.rglob("*")) if p.is_file()]
    checked = 0
    for path in files:
        original = path.read_bytes()
        for i in range(len(original)):
            for delta in (1, 0x20):
                data = bytearray(original)
                data[i] = (data[i] + delta) % 256 if delta == 1 else data[i] ^ delta
                path.write_bytes(bytes(data))
                try:
                    problems = verify_manifest(out)
                except NeurodeployError as exc:
                    assert str(exc).startswith(f"{out / 'manifest.json'}: not a valid bundle")
                    problems = [str(exc)]
                assert problems, (path.name, i, delta)
                checked += 1
        path.write_bytes(original)
    assert checked > 1000 and verify_manifest(out) == []
    # truncation, an emptied manifest, a deleted file, an added file, a size-only lie
    manifest = (out / "manifest.json").read_bytes()
    for text in (b"", manifest[:-1], b"{}", b"[]", manifest + b" "):
        (out / "manifest.json").write_bytes(text)
        with pytest.raises(NeurodeployError, match="not a valid bundle manifest"):
            verify_manifest(out)
    (out / "manifest.json").write_bytes(manifest)
    (out / "a.txt").unlink()
    (out / "c.txt").write_text("x")
    assert verify_manifest(out) == ["a.txt: missing", "c.txt: not listed in the manifest"]
