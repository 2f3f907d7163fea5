"""Import Lava on demand, with a message that says how to get it."""

from __future__ import annotations

import sys

from neurodeploy.errors import NeurodeployError


def require_lava(what: str = "the Lava backend") -> None:
    """Raise NeurodeployError unless lava-nc (and its magma core) can be imported."""
    try:
        import lava.magma.core.run_configs  # noqa: F401
    except ImportError as exc:
        py = f"{sys.version_info[0]}.{sys.version_info[1]}"
        hint = "" if py == "3.10" else f" (this is Python {py}; Lava supports Python 3.10 only)"
        raise NeurodeployError(
            f"{what} needs lava-nc 0.10{hint}: use the Python 3.10 environment that "
            "`tools/env.sh` creates, or `pip install neurodeploy[lava]` in a Python 3.10 "
            f"environment ({type(exc).__name__}: {exc})"
        ) from None


def require_lava_dl(what: str = "netx export") -> None:
    """Raise NeurodeployError unless lava-dl's netx can be imported."""
    require_lava(what)
    try:
        import lava.lib.dl.netx  # noqa: F401
    except ImportError as exc:
        raise NeurodeployError(
            f"{what} needs lava-dl 0.6: use the Python 3.10 environment that `tools/env.sh` "
            f"creates, or `pip install neurodeploy[lava]` ({type(exc).__name__}: {exc})"
        ) from None
