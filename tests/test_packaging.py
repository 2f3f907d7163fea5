"""Every package in the tree is listed in pyproject (or a wheel would miss it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomli = pytest.importorskip("tomli")
    tomllib = tomli


def test_pyproject_lists_every_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for top, mapped in cfg["package-dir"].items():
        base = ROOT / mapped
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([top, *rel.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_converters_is_not_a_top_level_package():
    import neurodeploy.converters as conv

    assert Path(conv.__file__).resolve().parent == ROOT / "converters"
