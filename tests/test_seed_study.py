"""tools/seed_study.py: ``--quick`` runs every part end to end and writes a well-formed JSON and
HTML report with real numbers; each claim's verdict follows its criterion; the zero-gradient
count is exact on cases with a known answer; bad input is one ``error:`` line. The study's
results themselves are the tool's output (the full run), not asserted here."""

from __future__ import annotations

import json
import math
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
try:
    import seed_study
finally:
    sys.path.pop(0)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, str, str]:
    out = tmp_path_factory.mktemp("study")
    code = seed_study.main(["--quick", "-o", str(out)])
    doc = json.loads((out / "study.json").read_text(encoding="utf-8"))
    return code, doc, (out / "study.html").read_text(encoding="utf-8"), str(out)


class _Tags(HTMLParser):
    """Counts tags and checks that every non-void element is closed in order."""

    VOID = {"meta", "br", "rect", "circle", "line", "polyline"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.count: dict[str, int] = {}
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_quick_study_writes_json_with_real_numbers(quick: tuple) -> None:
    code, doc, _, out = quick
    assert code == 0
    assert doc["mode"] == "quick" and doc["sizes"]["seeds"] == 1
    assert (Path(out) / seed_study.RANDMAN_FILE).exists()
    # every configuration of every part trained once per seed and deployed
    planned = {c["config"] for p in doc["parts"] for c in p["configs"]}
    assert {p["name"] for p in doc["parts"]} == set(seed_study.PARTS)
    assert {r["config"] for r in doc["runs"]} == planned == {r["config"] for r in doc["table"]}
    assert len(doc["runs"]) == len(planned)
    for r in doc["runs"]:
        if r["deploy_status"] != "ok":
            # a binary model whose α cannot fold into mantissa ±1 is refused in one line naming
            # the node; every other model deploys
            assert r["method"] == "binary", r
            assert r["deploy_status"].startswith("refused by the quantizer: node '"), r
            assert "\n" not in r["deploy_status"] and r.get("fixed_accuracy") is None
            continue
        for k in ("test_accuracy", "train_accuracy", "float_accuracy", "fixed_accuracy",
                  "zero_grad_fraction"):
            assert 0.0 <= r[k] <= 1.0, (k, r)
        assert r["gap"] == pytest.approx(r["train_accuracy"] - r["test_accuracy"])
        # the IR's float simulation is the torch model's arithmetic: same accuracy
        assert r["float_accuracy"] == pytest.approx(r["test_accuracy"], abs=1e-6), r
        for k in ("synops", "energy_cmos45nm_pj", "energy_loihi2_pj", "latency_us",
                  "hidden_spikes"):
            assert math.isfinite(r[k]) and r[k] > 0, (k, r)
        assert isinstance(r["cores"], int) and r["cores"] >= 1
    rows = {r["config"]: r for r in doc["table"]}
    # one configuration reached by two parts is trained once and named by both
    assert rows["digits superspike"]["labels"] == ["digits off", "digits fp"]
    assert rows["digits superspike"]["parts"] == ["activity", "sei"]
    # learnt something: full precision digits far above chance (0.1) even in quick mode
    assert rows["digits superspike"]["test_accuracy"] > 0.3
    # MSG masks half of the surrogate gradients on top of the triangle's zero tails
    assert rows["digits msg"]["zero_grad_fraction"] > rows["digits msg p=0"]["zero_grad_fraction"]
    # the Pareto front (accuracy ↑, Loihi 2 energy ↓) is not empty in any task
    for task in {r["task"] for r in doc["table"]}:
        assert any(r["pareto"] for r in doc["table"] if r["task"] == task), task


def test_quick_study_judges_every_claim_by_its_criterion(quick: tuple) -> None:
    _, doc, _, _ = quick
    claims = {c["id"]: c for c in doc["claims"]}
    assert list(claims) == [c.id for c in seed_study.CLAIMS]
    refused = {lb for r in doc["table"] if r["deploy_status"] != "ok" for lb in r["labels"]}
    for c in claims.values():
        assert isinstance(c["reproduced"], bool) and c["seed_std"] == 0.0  # one seed
        if c["verdict"] == "not measurable":  # only where a configuration did not deploy
            assert not c["reproduced"] and c["reason"].split(":")[0] in refused, c
            continue
        assert c["verdict"] == ("reproduced" if c["reproduced"] else "not reproduced")
        assert c["numbers"] and all(math.isfinite(v) for v in c["numbers"].values())
        assert c["reason"] is None
    n = claims["sgs-gap"]["numbers"]
    assert claims["sgs-gap"]["reproduced"] == (n["sgs gap"] < n["ste gap"])
    n = claims["msg-two"]["numbers"]
    assert claims["msg-two"]["reproduced"] == (n["msg p=0.5 + TWO"] > n["msg p=0.5"])
    n = claims["sei-binary"]["numbers"]
    assert claims["sei-binary"]["verdict"] == "not measurable" or claims["sei-binary"][
        "reproduced"] == all(
        n[f"{t} {f} cost"] <= 0.02 for t in ("digits", "conv")
        for f in ("test_accuracy", "fixed_accuracy"))


def test_quick_study_html_is_well_formed(quick: tuple) -> None:
    _, doc, html, _ = quick
    p = _Tags()
    p.feed(html)
    p.close()
    assert not p.errors and p.stack == [], (p.errors, p.stack)
    # one plot per experiment (activity: accuracy and spikes) and the Pareto plot
    assert p.count["svg"] == len(seed_study.PARTS) + 2
    assert html.count("<tr") == len(doc["claims"]) + 1 + len(doc["table"]) + 1
    assert html.count('class="front"') == sum(r["pareto"] for r in doc["table"])
    text = unescape(html)
    for c in doc["claims"]:
        assert c["criterion"] in text and c["verdict"] in text
    for title in ("STE vs SGS vs SGS + Lipschitz", "fraction of zero surrogate gradients",
                  "binary weights vs full precision"):
        assert title in text


def _claim(cid: str) -> seed_study.Claim:
    return next(c for c in seed_study.CLAIMS if c.id == cid)


def test_grid_claims_on_hand_made_numbers() -> None:
    """Shape within 5 pp at ×1 and a scale effect ≥ 2× the shape effect; then the reverse."""
    z = seed_study.QUICK  # shapes superspike, sigmoid; scales 0.1, 1
    flat = {"superspike ×0.1": 0.60, "superspike ×1": 0.90, "sigmoid ×0.1": 0.62,
            "sigmoid ×1": 0.88}
    ok, nums = _claim("zv-scale").check(lambda label, f: flat[label], z)
    assert ok and nums["scale effect"] == pytest.approx(0.28)
    assert nums["shape effect"] == pytest.approx(0.02)
    assert _claim("zv-shape").check(lambda label, f: flat[label], z)[0]
    shape_matters = {"superspike ×0.1": 0.90, "superspike ×1": 0.90, "sigmoid ×0.1": 0.70,
                     "sigmoid ×1": 0.71}
    ok, nums = _claim("zv-scale").check(lambda label, f: shape_matters[label], z)
    assert not ok and nums["shape effect"] == pytest.approx(0.195)
    assert not _claim("zv-shape").check(lambda label, f: shape_matters[label], z)[0]


def test_a_refused_deployment_makes_its_claim_not_measurable() -> None:
    """A configuration the quantizer refused has no fixed accuracy: its claim says so with the
    refusal, instead of a verdict on missing numbers."""
    parts = seed_study.plan(seed_study.QUICK, ["sei"])
    rows = []
    for _, sp in parts[0].configs:
        refused = sp.key == "conv binary"
        rows.append({"config": sp.key, "task": sp.task, "method": sp.method, "seed": 0,
                     "T": 8, "epochs": 2, "test_accuracy": 0.9, "train_accuracy": 0.95,
                     "gap": 0.05, "fixed_accuracy": None if refused else 0.9,
                     "deploy_status": "refused by the quantizer: node 'lif1': x" if refused
                     else "ok"})
    agg = seed_study.aggregate(rows)
    (c,) = seed_study.judge(parts, agg, seed_study.QUICK)
    assert (c["id"], c["verdict"], c["reproduced"]) == ("sei-binary", "not measurable", False)
    assert c["reason"] == ("conv binary: no fixed_accuracy (refused by the quantizer: node "
                           "'lif1': x)")
    rows[-1].update(fixed_accuracy=0.89, deploy_status="ok")
    (c,) = seed_study.judge(parts, seed_study.aggregate(rows), seed_study.QUICK)
    assert (c["verdict"], c["reproduced"], c["reason"]) == ("reproduced", True, None)
    assert c["numbers"]["conv fixed_accuracy cost"] == pytest.approx(0.01)


@pytest.mark.parametrize(("spike", "expected"), [
    ({"surrogate": "superspike"}, 0.0),          # 1/(α|x|+1)² is never 0
    ({"surrogate": "triangle", "method": "msg", "p": 1.0}, 1.0),  # every gradient masked
    ({"surrogate": "ste", "method": "msg", "p": 0.0}, 0.0),       # nothing masked, h = 1
])
def test_zero_gradient_fraction_exact_cases(spike: dict, expected: float) -> None:
    from neurodeploy.nn import SpikeConfig, mlp

    torch.manual_seed(0)
    model = mlp(6, (5, 4), 3, spike=SpikeConfig(**spike))
    x = (torch.rand(7, 3, 6) < 0.5).float()
    assert seed_study.zero_grad_fraction(model, x) == expected
    assert not model.training  # left in eval mode


def test_zero_gradient_fraction_of_triangle_counts_the_tails() -> None:
    """The triangle surrogate (α = 2) is 0 where |v − vth| ≥ 0.5: the fraction must equal the
    share of (neuron, step) elements outside that band, recomputed from the layer's voltage."""
    from neurodeploy.kinds.cuba import zero_state
    from neurodeploy.kinds.cuba_lif import float_step
    from neurodeploy.nn import SpikeConfig, mlp

    torch.manual_seed(1)
    model = mlp(6, (8,), 3, spike=SpikeConfig(surrogate="triangle"))
    x = (torch.rand(9, 4, 6) < 0.6).float() * 3.0
    lif = model.layers[1]
    p = {k: v.detach() for k, v in lif.effective().items()}
    with torch.no_grad():
        i_seq = model.layers[0](x.reshape(-1, 6)).reshape(9, 4, 8)
    st, seen = zero_state((4, 8), torch.float32, "cpu"), []

    def record(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        seen.append(d)
        return (d > 0).float()

    for t in range(9):
        st, _ = float_step(st, i_seq[t], p["du"], p["dv"], p["vth"], p["bias"], "zero", 0,
                           record)
    outside = sum(int((d.abs() >= 0.5).sum()) for d in seen)
    frac = seed_study.zero_grad_fraction(model, x)
    assert 0.0 < frac < 1.0
    assert frac == outside / (9 * 4 * 8)


def test_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert seed_study.main(["--quick", "--parts", "grid,bogus", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --parts: unknown part 'bogus' (choose from grid, activity, asgl, "
                   "sgs, msg, sei)"]
    assert seed_study.main(["--quick", "--seeds", "0", "-o", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == "error: --seeds must be >= 1, got 0"
    assert not (tmp_path / "study.json").exists()
    assert seed_study.main(["--from", str(tmp_path / "none.json"), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'none.json'}: not a study.json of this tool")


def test_from_saved_json_recomputes_the_same_document(quick: tuple, tmp_path: Path) -> None:
    """``--from`` re-judges and re-renders a saved study without training: same claims and
    table as the run that wrote it."""
    _, doc, html, out = quick
    assert seed_study.main(["--from", str(Path(out) / "study.json"), "-o", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "study.json").read_text(encoding="utf-8"))
    assert again["claims"] == doc["claims"] and again["table"] == doc["table"]
    assert again["runs"] == doc["runs"] and again["mode"] == "quick"
    assert (tmp_path / "study.html").read_text(encoding="utf-8") == html
