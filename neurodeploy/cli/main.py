"""Entry point of the ``neurodeploy`` command.

Exit codes: 0 success; 1 user error (one line on stderr, no traceback unless ``--debug``);
2 usage error. Each verb lives in its own module with a ``register(app)`` function; verb
modules import heavy libraries (torch, Lava) inside their command functions so that ``--help``
and ``inspect`` stay fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from neurodeploy import __version__
from neurodeploy.errors import NeurodeployError

#: verb modules under neurodeploy.cli, in the order ``--help`` lists them
VERBS = (
    "inspect", "train", "export", "quantize", "finetune", "simulate", "compare", "map", "energy",
    "sweep", "deploy", "demo",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"neurodeploy {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """The typer application with every verb module that is present registered."""
    app = typer.Typer(
        name="neurodeploy",
        help="Spiking neural networks from PyTorch to Loihi: export, quantize, simulate, run in "
             "Lava, estimate energy, deploy.",
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Print the version and exit."),
        debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    ) -> None:
        """Spiking neural networks from PyTorch to Loihi."""

    for verb in VERBS:
        try:
            module = importlib.import_module(f"neurodeploy.cli.{verb}")
        except ModuleNotFoundError as exc:
            if exc.name == f"neurodeploy.cli.{verb}":
                continue  # verb not built yet
            raise
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by tests in-process).

    Usage errors are handled by the CLI framework (message + exit 2); a NeurodeployError
    becomes ``error: <one line>`` on stderr and exit 1; with ``--debug`` the traceback shows.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(build_app())
    try:
        command.main(args=args, prog_name="neurodeploy", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except NeurodeployError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in neurodeploy: still one line unless --debug
        if debug:
            raise
        msg = " ".join(str(exc).split())
        print(f"internal error: {type(exc).__name__}: {msg} (rerun with --debug for the "
              "traceback, and please report it)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
