"""Lava backend parts that need no Lava: the pipeline schedule, the lazy import, netx refusals."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from test_lava_cases import conv_graph, mlp_graph, recurrent_graph, residual_graph

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Dense
from neurodeploy.lava.schedule import schedule

# ------------------------------------------------------------------ schedule (no Lava)


def test_schedule_equalises_paths() -> None:
    s = schedule(residual_graph())
    assert s.latency["lif1"] == 1 and s.latency["lif2"] == 2 and s.latency["lif3"] == 3
    assert s.dense_delay == {"skip": 1}
    edges = residual_graph().edges
    extra = {(e.src, e.dst): s.extra[i] for i, e in enumerate(edges)}
    assert extra[("lif1", "lif3")] == 2 and extra[("skip", "res")] == 0
    r = schedule(recurrent_graph())
    assert r.latency["rec"] == r.latency["lif1"] == 1 and sum(r.extra.values()) == 0
    assert schedule(conv_graph()).depth == 4  # conv, pool, fc1, fc2: the readout runs at 4


def test_schedule_refuses_impossible_loop() -> None:
    g = recurrent_graph()
    g.add(Dense("rec2", weight=np.zeros((16, 16), np.float32)), "rec")
    g.edges = [e for e in g.edges if not (e.src == "rec" and e.dst == "lif1")]
    g.connect("rec2", "lif1")
    with pytest.raises(NeurodeployError, match="recurrent loop"):
        schedule(g)


def test_lazy_import_says_how_to_get_lava(monkeypatch: pytest.MonkeyPatch) -> None:
    import neurodeploy.lava as ndl

    monkeypatch.setitem(sys.modules, "lava.magma.core.run_configs", None)
    g = mlp_graph()
    with pytest.raises(NeurodeployError, match=r"lava-nc 0\.10.*tools/env\.sh.*neurodeploy\[lava\]"):
        ndl.simulate_lava(g, np.zeros((4, 1, 20), np.float32))


def test_netx_refuses_what_it_cannot_load(tmp_path) -> None:
    from neurodeploy.lava.netx import export_netx

    for graph, node in ((conv_graph(), "pool"), (residual_graph(), "res"),
                        (recurrent_graph(), "rec")):
        with pytest.raises(NeurodeployError, match=f"node '{node}'"):
            export_netx(graph, tmp_path / "x.net")
    assert not (tmp_path / "x.net").exists()
    g = mlp_graph()  # bias_exp 2 with random mantissas: not a multiple of 64
    with pytest.raises(NeurodeployError, match="node 'lif1'.*multiple of 64"):
        export_netx(g, tmp_path / "x.net")
    g["lif1"].quant.bias_exp = 6
    g["fc2"].quant.weight_exp = -2  # 6 >> 2 is no integer: netx has no weight exponent
    g["fc2"].quant.weight[0, 0] = 6
    with pytest.raises(NeurodeployError, match="node 'fc2'.*weight_exp -2"):
        export_netx(g, tmp_path / "x.net")
    g["lif1"].quant.bias_exp = 2
    rounded = export_netx(g, tmp_path / "x.net", exact=False)
    assert rounded.approximated == ["fc2", "lif1"]  # the readout has no bias
    assert (tmp_path / "x.net").exists()


def test_netx_file_layout(tmp_path) -> None:
    import h5py
    from test_lava_cases import netx_conv_graph

    from neurodeploy.lava.netx import export_netx

    g = netx_conv_graph()
    ex = export_netx(g, tmp_path / "c.net")
    assert [la.synapse for la in ex.layers] == ["conv1", "conv2", "fc"]
    with h5py.File(tmp_path / "c.net") as f:
        types = [f[f"layer/{i}/type"][0].decode() for i in range(len(f["layer"]))]
        assert types == ["input", "conv", "conv", "flatten", "dense"]
        assert f["layer/2/stride"][()].tolist() == [2, 2]
        assert int(f["layer/1/neuron/iDecay"][()]) == g["lif1"].quant.du + 1
        assert int(f["layer/4/neuron/vThMant"][()]) == 2**17  # the readout never fires
        np.testing.assert_array_equal(f["layer/4/weight"][()], g["fc"].quant.weight)
