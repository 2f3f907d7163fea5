"""The capability check's int32 sums: Lava's Dense/DelayDense accumulate in numpy int32 where the
simulator adds exactly, so a quantized synapse whose sums inputs within their format can drive
beyond int32 is refused naming the layer and the bound (simulate fixed, the Lava backend, netx
export and deploy all ask ``check_fixed``); where only graded neuron outputs at their format's
bound could, a one-line warning names the layer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurodeploy.capability import SumBound, accumulation_bounds, check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Conv2d,
    Dense,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    SigmaDelta,
    SigmaDeltaQ,
    WeightQ,
)
from neurodeploy.sim import simulate


def _chain(w: np.ndarray, exp: int, bits: int, signed: bool, graded_source: bool = False,
           state_exp: int = 0) -> Graph:
    """in (``bits``-bit messages) [→ Delta encoder] → fc (integer weights ``w``) → readout."""
    g = Graph(metadata={"source": "test"})
    n_out, n_in = w.shape
    g.add(Input("in", shape=(n_in,), encoding="direct",
                quant=InputQ(scale=1.0, bits=bits, signed=signed)))
    g.inputs = ["in"]
    src = "in"
    if graded_source:
        g.add(SigmaDelta("enc", shape=(n_in,), mode="delta", activation="identity",
                         quant=SigmaDeltaQ(vth=0, spike_exp=0, state_exp=state_exp)), "in")
        src = "enc"
    g.add(Dense("fc", weight=w.astype(np.float32), quant=WeightQ(weight=w, weight_exp=exp)),
          src)
    g.add(Readout("out", shape=(n_out,), quant=NeuronQ(du=4095, dv=0, vth=0)), "fc")
    g.outputs = ["out"]
    return g


def test_sum_bounds_by_hand() -> None:
    w = np.array([[2, -4], [6, 0]], np.int32)
    # unsigned 8-bit inputs [0, 255]: row 0 in [-4·255, 2·255], row 1 in [0, 6·255]; << 2
    assert accumulation_bounds(_chain(w, 2, 8, False)) == [
        SumBound("fc", "dense", -1020 << 2, 1530 << 2, True)]
    # signed [-128, 127]: row 0 in [2·-128 - 4·127, 2·127 + 4·128], row 1 in [6·-128, 6·127];
    # a negative exponent shifts after the int32 sum: no shift here
    assert accumulation_bounds(_chain(w, -3, 8, True)) == [
        SumBound("fc", "dense", 6 * -128, 2 * 127 + 4 * 128, True)]


def test_reachable_int32_overflow_is_refused_naming_the_layer_and_the_bound() -> None:
    w = np.full((2, 80), 254, np.int32)  # 254 · 2047 · 80 · 2**6 > 2**31 − 1
    g = _chain(w, 6, 12, True)
    hi = 254 * 2047 * 80 << 6
    lo = -(254 * 2048 * 80 << 6)
    msg = (f"node 'fc' (dense): its integer sums reach [{lo}, {hi}], beyond Lava's int32 "
           "accumulator [-2**31, 2**31 - 1] for inputs within their format; Lava's Dense would "
           "wrap them where the simulator adds exactly (lower the weights, the weight exponent "
           "or the input bits)")
    with pytest.raises(NeurodeployError) as err:
        check_fixed(g)
    assert str(err.value) == msg
    with pytest.raises(NeurodeployError, match="its integer sums reach"):
        simulate(g, np.zeros((2, 1, 80), np.float32), mode="fixed")
    g.nodes["fc"].quant.weight_exp = 5  # half of it fits
    check_fixed(g)


def test_a_delayed_conv_is_bounded_as_the_delaydense_that_runs_it() -> None:
    g = Graph(metadata={"source": "test"})
    g.add(Input("in", shape=(64, 3, 3), encoding="direct",
                quant=InputQ(scale=1.0, bits=16, signed=False)))
    g.inputs = ["in"]
    w = np.full((2, 64, 3, 3), 254, np.int32)  # 254 · 65535 · 576 > 2**31
    g.add(Conv2d("conv", weight=w.astype(np.float32), padding=(1, 1), quant=WeightQ(weight=w),
                 delay=np.ones(w.shape, np.int32)), "in")
    g.add(Readout("out", shape=(2, 3, 3), quant=NeuronQ(du=4095, dv=0, vth=0)), "conv")
    g.outputs = ["out"]
    with pytest.raises(NeurodeployError, match=r"^node 'conv' \(conv2d\): its integer sums reach "
                                               rf"\[0, {254 * 65535 * 576}\]"):
        check_fixed(g)
    g.nodes["conv"].delay = None  # Lava's Conv wraps to 24 bits itself, as the simulator does
    check_fixed(g)


def test_graded_neuron_inputs_that_could_overflow_give_one_warning_line() -> None:
    w = np.full((2, 64), 254, np.int32)
    g = _chain(w, 0, 8, True, graded_source=True, state_exp=0)  # graded spikes up to 2**24
    with pytest.warns(UserWarning) as rec:
        check_fixed(g)
    (line,) = [str(r.message) for r in rec]
    bound = 254 * 64 << 24
    assert line == (f"node 'fc' (dense): its integer sums reach [{-bound}, {bound}], beyond "
                    "Lava's int32 accumulator [-2**31, 2**31 - 1] if its graded inputs reached "
                    "their format's bound; Lava's Dense would then wrap them where the simulator "
                    "adds exactly")
    g.nodes["enc"].quant.state_exp = 7  # spikes within 2**17: 254 · 64 · 2**17 < 2**31
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_fixed(g)


@pytest.mark.lava
def test_lavas_dense_does_wrap_the_refused_sum() -> None:
    """The refused case above, run in Lava's own Dense: its int32 sum wraps (2**32 off)."""
    pytest.importorskip("lava.magma")
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense as LavaDense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer

    src = RingBuffer(data=np.full((80, 3), 2047))
    dense = LavaDense(weights=np.full((2, 80), 254), weight_exp=6, num_message_bits=24)
    sink = Sink(shape=(2,), buffer=3)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(sink.a_in)
    try:
        sink.run(condition=RunSteps(num_steps=3), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = sink.data.get()[:, -1]
    finally:
        sink.stop()
    exact = 254 * 2047 * 80 << 6
    np.testing.assert_array_equal(got, [exact - 2**32] * 2)
