"""Short training runs: every method learns (accuracy far above chance after 2 epochs on a
subset), TWO checkpoints reload with the same predictions, and the ``train`` CLI. The accuracy
targets themselves are shown by tools/bench_train.py, not asserted here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurodeploy.cli.main import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.nn.checkpoint import load_checkpoint, save_checkpoint
from neurodeploy.nn.training import METHODS, TrainConfig, evaluate, load_task, train


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_learns_digits(method: str) -> None:
    cfg = TrainConfig(task="digits", method=method, epochs=3, limit=600, test_limit=200, T=4)
    r = train(cfg)
    assert r.test_accuracy > 0.6, (method, r.test_accuracy)  # chance is 0.1
    assert r.metadata["method"] == method and r.metadata["T"] == 4
    assert r.metadata["spike"]["method"] in ("plain", "sgs", "msg", "asgl")


def test_two_learns_weights_and_reloaded_checkpoint_predicts_the_same(tmp_path) -> None:
    cfg = TrainConfig(task="digits", method="msg", two=True, epochs=2, limit=400, test_limit=200,
                      activity_reg=0.5, lipschitz=1e-4)
    r = train(cfg)
    w = np.asarray(r.metadata["two_weights"])
    assert r.metadata["decoding"] == "weighted" and w.shape == (8,)
    assert not np.allclose(w, w[0])  # updated from per-step accuracy, no longer uniform
    assert w.mean() * 8 == pytest.approx(1.0, abs=1e-5)  # w/T with mean(w) = 1
    path = tmp_path / "two.pt"
    save_checkpoint(path, r.model, r.metadata)
    loaded, meta = load_checkpoint(path)
    _, test = load_task("digits")
    test = test.subset(slice(0, 200))
    acc0, pred0 = evaluate(r.model, test, 8, "direct")
    acc1, pred1 = evaluate(loaded, test, 8, "direct")
    assert np.array_equal(pred0, pred1) and acc1 == meta["test_accuracy"] == acc0
    assert torch.equal(loaded.readout.weights, r.model.readout.weights)
    try:
        from neurodeploy.sim import run_dataset
    except ImportError:  # pragma: no cover - the simulator lands separately
        pytest.skip("neurodeploy.sim.run_dataset is not available yet")
    from neurodeploy.converters.neurodeploy_nn import to_graph

    sim = run_dataset(to_graph(loaded, meta), test, mode="float")
    assert np.array_equal(sim.predictions, pred0) and sim.accuracy == acc0


def test_randman_and_npz_tasks(tmp_path) -> None:
    r = train(TrainConfig(task="randman", epochs=5, limit=800, test_limit=200, hidden=(64,)))
    assert r.metadata["encoding"] == "spikes" and r.metadata["T"] == 50
    assert r.metadata["decoding"] == "max" and r.test_accuracy > 0.3  # chance 0.1
    from neurodeploy.data import load_dataset, save_dataset

    ds = load_dataset("digits", "all", limit=300)
    save_dataset(ds, tmp_path / "d.npz")
    r2 = train(TrainConfig(task=str(tmp_path / "d.npz"), epochs=2, encoding="rate", T=6))
    assert r2.metadata["encoding"] == "rate" and r2.metadata["n_test"] == 60
    assert r2.test_accuracy > 0.4
    with pytest.raises(NeurodeployError, match="neither digits"):
        load_task(str(tmp_path / "missing.npz"))


def test_conv_arch_on_digits_image() -> None:
    r = train(TrainConfig(task="digits-image", arch="conv", hidden=(8,), epochs=3, limit=400,
                          test_limit=200, T=4, lr=1e-2))
    assert r.test_accuracy > 0.5
    assert [e["type"] for e in r.model.arch()["layers"]][:3] == ["conv2d", "cuba_lif",
                                                                 "avgpool2d"]


def test_cli_train_json_and_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "m.pt"
    rc = main(["train", "--task", "digits", "--method", "sgs", "--epochs", "1", "--seed", "3",
               "--limit", "300", "--T", "4", "--lipschitz", "1e-4", "--binary-weights",
               "-o", str(out), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "sgs" and res["epochs"] == 1 and 0 <= res["test_accuracy"] <= 1
    assert res["seconds"] > 0 and res["T"] == 4
    ck = torch.load(out, weights_only=True)
    assert ck["format"] == "neurodeploy-ckpt" and ck["metadata"]["binary_weights"] is True
    assert ck["metadata"]["test_accuracy"] == res["test_accuracy"]
    assert ck["metadata"]["hyperparameters"]["lipschitz"] == 1e-4
    assert ck["arch"]["layers"][0]["binary"] is True
    rc = main(["train", "--method", "nope", "-o", str(tmp_path / "x.pt")])
    assert rc == 1 and "unknown method 'nope'" in capsys.readouterr().err
    rc = main(["train", "--hidden", "a,b", "-o", str(tmp_path / "x.pt")])
    assert rc == 1 and "--hidden must be comma-separated" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_default_training_is_loihi_native_and_synapse_bias_is_an_option(tmp_path,
                                                                       capsys) -> None:
    r = train(TrainConfig(task="digits", epochs=1, limit=200, test_limit=50, T=4))
    assert r.metadata["hyperparameters"]["synapse_bias"] is False
    arch = r.model.arch()["layers"]
    assert all(e["bias"] is False for e in arch if e["type"] in ("linear", "conv2d"))
    assert all(e["learn_bias"] and e["bias_mode"] == "neuron" for e in arch
               if e["type"] in ("cuba_lif", "readout"))
    # the neuron biases moved away from their initial 0: they are trained
    assert float(r.model.layers[1].bias.abs().sum()) > 0
    out = tmp_path / "old.pt"
    rc = main(["train", "--epochs", "1", "--limit", "200", "--T", "4", "--synapse-bias",
               "-o", str(out), "--json"])
    assert rc == 0
    capsys.readouterr()
    ck = torch.load(out, weights_only=True)
    assert ck["metadata"]["hyperparameters"]["synapse_bias"] is True
    assert ck["arch"]["layers"][0]["bias"] is True and "layers.0.bias" in ck["state_dict"]
    assert ck["arch"]["layers"][1]["learn_bias"] is False
    model, _ = load_checkpoint(out)
    assert model.layers[0].bias is not None


def test_spike_settings_override_the_method_preset() -> None:
    """``TrainConfig.spike`` overrides the method's SpikeConfig for one run (the seed study's
    steepness grid) and is refused in one line for an unknown setting."""
    r = train(TrainConfig(task="digits", method="asgl", spike={"alpha": 3.0, "asgl_width": 0.05},
                          epochs=1, limit=128, test_limit=64, T=2))
    cfgs = [m.spike_cfg for m in r.model.modules() if hasattr(m, "spike_cfg")]
    assert cfgs and all(c.alpha == 3.0 and c.asgl_width == 0.05 and c.method == "asgl"
                        for c in cfgs)
    with pytest.raises(NeurodeployError, match=r"^unknown spike setting 'beta' \(choose from "):
        TrainConfig(spike={"beta": 1.0})
