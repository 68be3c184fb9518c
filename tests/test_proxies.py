"""Zero-cost proxies: hand-computable cases, determinism, non-finite handling, `nas score`,
and a proxy-only search through the CLI."""
import json

import numpy as np
import pytest
import torch

from evaluators.datasets import load_dataset
from evaluators.proxies import PROXIES, ProxyEvaluator, score
from nas import build
from nas.genome import Cell, Genome, Node, Stage
from tests.conftest import run_cli

DIGITS = load_dataset("digits")


def _mlp(hidden: int = 5) -> Genome:
    """flatten → linear(hidden) → relu → linear(K): a chain whose synflow has a closed form."""
    cell = Cell((Node("flatten", "flatten", ("x",)),
                 Node("fc1", "linear", ("flatten",), {"out_ch": hidden}),
                 Node("relu", "relu", ("fc1",)),
                 Node("fc2", "linear", ("relu",), {"out_ch": "K"})))
    return Genome("mlp", (Stage("s", cell, block_name=""),), input=(1, 8, 8), num_classes=10)


def test_synflow_of_a_linear_chain_is_its_closed_form():
    g = _mlp()
    torch.manual_seed(3)
    m = build(g)
    w1, b1 = m.s.fc1.weight.detach().abs().double(), m.s.fc1.bias.detach().abs().double()
    w2 = m.s.fc2.weight.detach().abs().double()
    # R = 1ᵀ(|W2| (|W1| 1 + |b1|) + |b2|): ∂R/∂W1_jk = (1ᵀ|W2|)_j, ∂R/∂W2_ij = (|W1| 1 + |b1|)_j
    col = w2.sum(0)
    h = w1.sum(1) + b1
    want = float((w1 * col[:, None]).sum() + (w2 * h[None, :]).sum())
    got = score(g, DIGITS, ["synflow"], seed=3)["synflow"]["value"]
    assert got == pytest.approx(want, rel=1e-9)


def test_params_and_flops_baselines_come_from_the_cost_model():
    g = _mlp(7)
    got = score(g, DIGITS, ["params", "flops"])
    assert got["params"]["value"] == 64 * 7 + 7 + 7 * 10 + 10
    assert got["flops"]["value"] == 64 * 7 + 7 * 10


def test_naswot_is_the_logdet_of_the_hamming_kernel():
    g = _mlp(128)            # enough units for 64 distinct activation codes (K non-singular)
    torch.manual_seed(0)
    m = build(g).train()
    gen = torch.Generator().manual_seed(0)
    dd = DIGITS.to("cpu")
    idx = torch.randperm(len(dd), generator=gen)[:64]
    x = dd.normalise(dd.train_x[idx])
    with torch.no_grad():
        c = (torch.relu(m.s.fc1(x.flatten(1))) > 0).double()
    k = c @ c.t() + (1 - c) @ (1 - c).t()
    want = float(torch.linalg.slogdet(k)[1])
    assert score(g, DIGITS, ["naswot"], seed=0)["naswot"]["value"] == pytest.approx(want)


def test_every_proxy_is_deterministic_for_a_seed_and_seed_dependent():
    from search_spaces import get_space
    import random
    space = get_space("exhaustive")
    g = space.decode(space.sample(random.Random(5)))
    a = score(g, DIGITS, list(PROXIES.names()), seed=1)
    b = score(g, DIGITS, list(PROXIES.names()), seed=1)
    c = score(g, DIGITS, ["snip", "synflow"], seed=2)
    assert {k: v["value"] for k, v in a.items()} == {k: v["value"] for k, v in b.items()}
    assert c["snip"]["value"] != a["snip"]["value"]
    assert all(np.isfinite(v["value"]) and v["ms"] >= 0 for v in a.values())


def test_a_non_finite_score_is_a_failed_result_not_a_crash():
    # a network that ignores its input: every per-sample Jacobian is 0, its correlation NaN
    cell = Cell((Node("z", "zero", ("x",)), Node("gap", "gap", ("z",)),
                 Node("flatten", "flatten", ("gap",)),
                 Node("fc", "linear", ("flatten",), {"out_ch": "K"})))
    g = Genome("dead", (Stage("s", cell, block_name=""),), input=(1, 8, 8), num_classes=10)
    from nas.config import Budget
    from nas.constraints import cost_metrics
    from nas.loop import TrialSpec
    ev = ProxyEvaluator(name="jacob_cov")
    r = ev.evaluate(TrialSpec(1, {}, g, g.hash, cost=cost_metrics(g), budget=Budget()), DIGITS)
    assert r.status == "failed" and "jacob_cov is not finite" in r.error


def test_nas_score_cli(tmp_path):
    r = run_cli("score", "resnet20", "--proxy", "synflow,params", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == {"synflow", "params"} and d["params"] == 269434 and d["synflow"] > 0
    r = run_cli("score", "resnet20", "--proxy", "synflow,bogus")
    assert r.returncode == 2 and "unknown proxy 'bogus'" in r.stderr
    r = run_cli("score", "resnet20")
    assert r.returncode == 0 and "ms" in r.stdout and "naswot" in r.stdout


@pytest.mark.slow
def test_proxy_only_search_through_the_cli(tmp_path):
    r = run_cli("search", "--space", "exhaustive", "--evaluator", "proxy:synflow",
                "--trials", "12", "--out", str(tmp_path / "p"), "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["counts"]["trained"] == 12 and d["counts"]["ok"] >= 11
    board = d["leaderboard"]
    assert board[0]["accuracy"] >= board[-1]["accuracy"]            # ranked by the score
    from nas.store import ExperimentStore
    s = ExperimentStore.open(tmp_path / "p")
    try:
        rows = [x for x in s.rows() if x.status == "ok"]
        assert all(x.result.metrics["proxy_synflow"] == x.accuracy for x in rows)
    finally:
        s.close()
