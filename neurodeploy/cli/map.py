"""``neurodeploy map MODEL.ndg --target loihi2``: cores, chips and per-layer use on a chip."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file


def map_cmd(
    model: Annotated[Path, typer.Argument(help="Graph file (.ndg) to place.")],
    target: Annotated[str, typer.Option(
        "--target", "-t", help="Chip profile: loihi1, loihi2, or a .toml path.")] = "loihi2",
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print JSON: cores, chips, layers.")] = False,
) -> None:
    """Split each neuron layer across cores under the target's limits; report the use."""
    from neurodeploy.hardware_profiles import load_profile
    from neurodeploy.ir import load_graph
    from neurodeploy.mapping import map_graph

    graph = load_graph(existing_file(model, "graph file"))
    mapping = map_graph(graph, load_profile(target))
    if json_out:
        emit_json({"file": str(model), **mapping.to_dict()})
        return
    from neurodeploy.report import map_table

    con = console()
    con.print(map_table(mapping))
    util = mapping.utilisation()
    con.print(f"mean use of the {mapping.n_cores} used cores: neurons {util['neurons']:.1%}, "
              f"synapse memory {util['synapse_memory']:.1%}, input axons "
              f"{util['axons_in']:.1%}")


def register(app: typer.Typer) -> None:
    app.command("map")(map_cmd)
