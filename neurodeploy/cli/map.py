"""``neurodeploy map MODEL.ndg --target loihi2 [--data D]``: cores, chips, per-layer use on a
chip; with ``--data``, the performance model on the simulated activity (time per step,
latency, energy, busiest core and link)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file


def map_cmd(
    model: Annotated[Path, typer.Argument(help="Graph file (.ndg) to place.")],
    target: Annotated[str, typer.Option(
        "--target", "-t", help="Chip profile: loihi1, loihi2, or a .toml path.")] = "loihi2",
    data: Annotated[str | None, typer.Option(
        "--data", help="Run the performance model on this data: digits, digits-image, randman "
                       "or a .npz (x, y).")] = None,
    samples: Annotated[int, typer.Option(
        "--samples", help="Samples of --data the performance model runs on.")] = 16,
    steps: Annotated[int | None, typer.Option(
        "--T", help="Time steps per sample (default: the model's T or the data's).")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print JSON: cores, chips, layers, per core (and performance).")] = False,
    html: Annotated[Path | None, typer.Option(
        "--html", "-o", "--output",
        help="Write an HTML report: chip floor plan, step timeline.")] = None,
) -> None:
    """Split each neuron layer across cores under the target's limits; report the use."""
    from neurodeploy.atomic import write_text
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.hardware_profiles import load_profile
    from neurodeploy.ir import load_graph
    from neurodeploy.mapping import map_graph
    from neurodeploy.report import chip_html, chip_lines, map_table

    path = existing_file(model, "graph file")
    from neurodeploy.atomic import refuse_input_overwrite

    refuse_input_overwrite(html, [path, data if str(data).endswith(".npz") else None],
                           option="--html")
    if samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    from neurodeploy.quantize.pool_folding import fold_pools

    graph, _ = fold_pools(load_graph(path))  # pools folded where cheaper, as quantize does
    profile = load_profile(target)
    mapping = map_graph(graph, profile)
    perf = None
    if data is not None:
        from neurodeploy.data import load_dataset
        from neurodeploy.perf import record_activity, simulate_perf

        ds = load_dataset(data, split="test", limit=samples)
        perf = simulate_perf(mapping, record_activity(graph, ds, T=steps, samples=samples),
                             profile)
    if html is not None:
        from neurodeploy.report.page import html_page

        write_text(html, html_page(f"neurodeploy map: {model.name}",
                                   [chip_html(profile.name, mapping, perf)]))
    if json_out:
        doc = {"file": str(model), **mapping.to_dict()}
        if perf is not None:
            doc["performance"] = perf.to_dict()
        emit_json(doc)
        return
    con = console()
    con.print(map_table(mapping))
    for line in chip_lines(profile.name, mapping, perf):
        con.print(line)
    if html is not None:
        con.print(f"wrote {html}")


def register(app: typer.Typer) -> None:
    app.command("map")(map_cmd)
