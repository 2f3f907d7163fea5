"""Mapping counts delay buffers: a layer fed by delayed synapses (largest delay D) needs
``neurons · D · delay_slot_words_per_neuron`` more synapse-memory words per core; a delay above
the profile's ``max_delay`` (or on a profile that states none) is refused naming the layer."""

from __future__ import annotations

import numpy as np
import pytest
from profile_edit import edited_profile
from test_mapping import conv_net, dense_net

from neurodeploy.energy import load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.mapping import map_graph


def _delayed(n_in: int, n_hidden: int, top: int) -> object:
    g = dense_net(n_in, n_hidden, 1)
    d = np.zeros((n_hidden, n_in), np.int32)
    d[0, 0] = top
    g.nodes["fc1"].delay = d
    return g


def test_delay_slots_add_words_per_neuron_by_hand():
    # loihi2: 2,560 inputs, 8 neurons per core fit without delays (10,240 of 12,000 words, see
    # test_mapping's dense case); delays up to 7 add 8 neurons · 7 slots · 1 word = 56 words
    # per core: still 8 neurons per core, 10,296 words.
    prof = load_profile("loihi2")
    plain = map_graph(dense_net(2560, 100, 1), prof)
    delayed = map_graph(_delayed(2560, 100, 7), prof)
    words = [c.synmem_words for c in delayed.cores if c.layer == "lif1"]
    assert words == [2560 * 4 + 8 * 7] * 12 + [2560 * 3 + 4 * 7]
    assert delayed.layers[0].cores == plain.layers[0].cores == 13
    # the readout, fed by delay-free synapses, pays nothing
    assert [c.synmem_words for c in delayed.cores if c.layer == "out"] == \
        [c.synmem_words for c in plain.cores if c.layer == "out"]


def test_delay_slots_can_cost_cores(tmp_path):
    # 200 words per neuron per slot: 8 neurons · 7 · 200 = 11,200 more words do not fit with
    # 10,240 synapse words; the layer needs smaller tiles
    prof = edited_profile(tmp_path, "loihi2", delay_slot_words_per_neuron=200)
    m = map_graph(_delayed(2560, 100, 7), prof)
    assert m.layers[0].cores > 13
    assert all(c.synmem_words <= 12000 for c in m.cores)


def test_delay_above_the_profile_limit_is_refused_naming_the_layer(tmp_path):
    prof = edited_profile(tmp_path, "loihi2", max_delay=5)
    with pytest.raises(NeurodeployError, match=r"^layer 'lif1' \(fed by fc1\): synaptic delay 7 "
                                               r"steps; loihi2 allows at most 5 steps "
                                               r"\(resource: max_delay\)$"):
        map_graph(_delayed(16, 4, 7), prof)
    with pytest.raises(NeurodeployError, match=r"loihi1 states no max_delay"):
        map_graph(_delayed(16, 4, 7), load_profile("loihi1"))


def test_conv_delays_add_the_same_words_per_neuron():
    prof = load_profile("loihi2")
    plain = conv_net()
    delayed = conv_net()
    d = np.zeros(delayed.nodes["c"].weight.shape, np.int32)
    d[1, 0, 2, 2] = 5
    delayed.nodes["c"].delay = d
    a, b = (map_graph(g, prof) for g in (plain, delayed))
    assert [layer.cores for layer in a.layers] == [layer.cores for layer in b.layers]
    assert [cb.synmem_words - ca.synmem_words for ca, cb in zip(a.cores, b.cores, strict=True)] \
        == [ca.neurons * 5 for ca in a.cores]
