"""``neurodeploy inspect MODEL.ndg``: the layer table of a graph file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file


def inspect_cmd(
    model: Annotated[Path, typer.Argument(help="Graph file (.ndg) to describe.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON: one entry per node.")] = False,
) -> None:
    """Print a layer table: name, type, output shape, neurons, synapses, parameters."""
    from neurodeploy.ir import load_graph, summarize

    graph = load_graph(existing_file(model, "graph file"))
    rows = summarize(graph)
    if json_out:
        emit_json({
            "file": str(model),
            "metadata": graph.metadata,
            "inputs": graph.inputs,
            "outputs": graph.outputs,
            "nodes": [
                {"name": r.name, "type": r.kind, "shape": list(r.shape), "neurons": r.neurons,
                 "synapses": r.synapses, "parameters": r.parameters, "quantized": r.quantized,
                 "inputs": [e.src for e in graph.in_edges(r.name)],
                 "recurrent_inputs": [e.src for e in graph.in_edges(r.name) if e.delay]}
                for r in rows
            ],
        })
        return
    from rich.table import Table

    table = Table(title=f"{model}  ({graph.metadata.get('source', 'unknown source')})")
    for col, justify in (("name", "left"), ("type", "left"), ("output shape", "left"),
                         ("neurons", "right"), ("synapses", "right"), ("parameters", "right"),
                         ("quantized", "center")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r.name, r.kind, "×".join(map(str, r.shape)), f"{r.neurons:,}",
                      f"{r.synapses:,}", f"{r.parameters:,}", "yes" if r.quantized else "")
    table.add_row("total", "", "", f"{sum(r.neurons for r in rows):,}",
                  f"{sum(r.synapses for r in rows):,}", f"{sum(r.parameters for r in rows):,}", "",
                  style="bold")
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_cmd)
