"""Weight sharing (``--evaluator supernet``): a child is exactly the decoded network, only its
path computes, the CLI runs a tiny supernet search end to end (with the top-K retrained
stand-alone), ENAS trains through the controller, and a search killed with -9 resumes to the
same results as an uninterrupted one."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas.builder import build
from nas.config import SearchConfig
from nas.store import ExperimentStore
from search_spaces import SPACES
from tests.conftest import ROOT, run_cli
from tests.helpers import val_accuracy

from evaluators.supernet_net import Supernet

TINY = ("search", "--space", "exhaustive", "--evaluator", "supernet", "--quiet")


pytestmark = pytest.mark.usefixtures("one_thread")


def _random_bn_stats(net):
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("space,options,affine", [
    ("exhaustive", {}, True), ("exhaustive", {}, False),
    ("nasnet-cell", {}, True), ("nasnet-cell", {"concat": "choice"}, False),
    ("nasnet-cell", {"reductions": 1, "N": 1, "concat": "choice"}, True)])
def test_child_equals_decode(space, options, affine):
    """Random children of one supernet give the stand-alone network's outputs with the
    exported weights, under the builder's parameter names; children share weights by
    (position, op)."""
    s = SPACES.get(space)(**options)
    net = Supernet(affine=affine, seed=3)
    rng = random.Random(7)
    for _ in range(4):
        g = s.decode(s.sample(rng))
        child = net.child(g)
        _random_bn_stats(child)
        with torch.no_grad():
            for p in child.parameters():
                p.normal_(0, 0.3)
        ref = build(g)
        ref.load_state_dict(net.export(g), strict=True)    # same names, same shapes
        if affine:
            assert set(child.state_dict()) == set(ref.state_dict())
        x = torch.randn(3, *g.input)
        child.eval(), ref.eval()
        with torch.no_grad():
            assert torch.equal(child(x), ref(x))
    # the pool is shared: a second child reuses the first one's module at the same key
    a = s.sample(rng)
    g1, g2 = s.decode(a), s.decode({**a, s.decisions[-1].name: s.decisions[-1].choices[0]})
    k1, k2 = net.keys(g1), net.keys(g2)
    common = [p for p in k1 if k2.get(p) == k1[p]]
    assert common and all(net.child(g1).get_submodule(p) is net.child(g2).get_submodule(p)
                          for p in common)


@pytest.mark.parametrize("space", ["exhaustive", "nasnet-cell"])
def test_only_the_path_computes(space):
    """A training step of a child runs exactly the child's modules once each, and as many
    conv/linear FLOPs as the stand-alone network, however large the pool has grown."""
    s = SPACES.get(space)()
    net = Supernet()
    rng = random.Random(0)
    for _ in range(6):                       # grow the pool with other children first
        net.child(s.decode(s.sample(rng)))
    g = s.decode(s.sample(rng))
    child = net.child(g)
    assert len(net.pool) > len(net.keys(g))
    calls = []
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: calls.append(k))
             for k, m in net.pool.items()]
    x = torch.randn(8, *g.input)
    with FlopCounterMode(display=False) as fc:
        child(x).sum().backward()
    for h in hooks:
        h.remove()
    path = [k for k in net.keys(g).values() if k in net.pool]     # the stateful modules
    assert sorted(calls) == sorted(path)                          # each path module once
    touched = {k for k, m in net.pool.items() if any(p.grad is not None for p in m.parameters())}
    assert touched == {k for k in path if any(True for _ in net.pool[k].parameters())}
    ref = build(g)
    with FlopCounterMode(display=False) as fr:
        ref(x).sum().backward()
    assert fc.get_total_flops() == fr.get_total_flops()


def test_tiny_supernet_search_through_the_cli(tmp_path):
    """`nas search --evaluator supernet` on exhaustive, 1 epoch: children scored by the
    supernet, the top 2 retrained stand-alone and shown next to their supernet accuracy."""
    out = tmp_path / "run"
    p = run_cli(*TINY, "--controller", "evolution", "--trials", "8", "--epochs", "1",
                "--retrain", "2", "--retrain-epochs", "1", "--executor", "local",
                "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["counts"]["ok"] == 8
    rows = summary["leaderboard"]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    assert len({r["accuracy"] for r in rows}) > 1            # children differ
    re = summary["retrained"]
    assert [r["trial"] for r in re] == [r["number"] for r in rows[:2]]
    assert all(0.1 < r["standalone_accuracy"] <= 1 for r in re)
    ck = torch.load(out / "supernet.pt", weights_only=True)
    assert ck["epoch"] == 1 and ck["log"][0]["images_per_s"] > 0
    store = ExperimentStore.open(out)
    try:
        assert store.row(re[0]["trial"]).result.metrics["standalone_accuracy"] == \
            re[0]["standalone_accuracy"]
    finally:
        store.close()
    assert (out / "retrain" / "trials.db").is_file()
    # the report shows both accuracies
    from nas.report import make_report
    rep = make_report([out])["experiments"][0]
    assert [(r["trial"], r["standalone_accuracy"]) for r in rep["retrained"]] == \
        [(r["trial"], r["standalone_accuracy"]) for r in re]
    # after retraining, the search's best is the best stand-alone child, and `nas export DIR`
    # ships its retrained weights: their validation accuracy is the stand-alone one
    top = max(re, key=lambda r: r["standalone_accuracy"])
    assert summary["best"]["number"] == top["trial"]
    best = json.loads((out / "best.json").read_text())
    assert best["trial"] == top["trial"] and best["metrics"]["standalone_trial"] is not None
    p = run_cli("export", str(out), "--format", "pt", "--out", str(tmp_path / "b.pt"))
    assert p.returncode == 0, p.stderr
    assert "trained weights of stand-alone retraining" in p.stdout, p.stdout
    assert abs(val_accuracy(out, tmp_path / "b.pt") - top["standalone_accuracy"]) <= 1e-6


def _enas_search(tmp_path, trials: int):
    """A tiny ENAS search on exhaustive (2 supernet epochs, no retraining) and its config."""
    from nas.experiment import run_search
    cfg = SearchConfig(space="exhaustive", controller="reinforce", evaluator="supernet",
                       evaluator_options={"mode": "enas"}, trials=trials, retrain=0,
                       out=str(tmp_path / "enas")).replace(epochs=2)
    return run_search(cfg), cfg

def test_enas_trains_through_the_controller(tmp_path):
    """mode=enas: shared-weight epochs alternate with controller steps (the epoch count grows
    with the trial number), the paths come from the controller's policy."""
    summary, cfg = _enas_search(tmp_path, 8)
    store = ExperimentStore.open(summary.root)
    try:
        rows = [r for r in store.rows() if r.source == "trained"]
    finally:
        store.close()
    epochs = [r.result.metrics["supernet_epochs"] for r in rows]
    assert epochs == sorted(epochs) and epochs[0] == 1 and epochs[-1] == 2
    # the rewards were validation batches of 64; the finalists (here: all 8, fewer than 10)
    # were re-scored on the whole validation split after the search, the batch score kept
    from nas.experiment import load_data
    n_val = len(load_data(cfg).eval_y)
    assert n_val > 64
    for r in rows:
        m = r.result.metrics
        assert m["scored_on"] == "validation split" and r.accuracy == m["accuracy"]
        assert abs(m["batch_accuracy"] * 64 - round(m["batch_accuracy"] * 64)) < 1e-4
        assert abs(r.accuracy * n_val - round(r.accuracy * n_val)) < 1e-4   # (float32 mean)
    assert any(abs(r.accuracy - r.result.metrics["batch_accuracy"]) > 1e-9 for r in rows)
    ck = torch.load(summary.root / "supernet.pt", weights_only=True)
    assert ck["controller"]["name"] == "reinforce" and ck["controller"]["n_updates"] >= 1
    # nas report: the controller's learning curve (mean reward, policy entropy)
    from nas.report import make_report
    rep = make_report([summary.root])
    curve = rep["experiments"][0]["learning_curve"]
    assert len(curve) == 8 and all(p["entropy"] > 0 for p in curve)
    assert (summary.root / "controller.png").is_file()


@pytest.mark.parametrize("args,message", [
    (("--executor", "ray"), "runs with --executor local only"),
    (("--evaluator-option", "mode=darts"), "mode"),
    (("--retrain", "-1"), "retrain: must be ≥ 0"),
])
def test_bad_supernet_input_is_one_line(capsys, tmp_path, args, message):
    from nas.cli import main
    code = main([*TINY, "--out", str(tmp_path / "x"), *args])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def _nas_bg(*args):
    exe = Path(sys.executable).parent / "nas"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nas"]
    return subprocess.Popen([*cmd, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _results(root):
    store = ExperimentStore.open(root)
    try:
        return [(r.number, r.hash, r.status, r.accuracy) for r in store.rows()]
    finally:
        store.close()


def test_kill_9_during_supernet_training_resumes_to_the_same_results(tmp_path):
    """kill -9 after the first epoch's checkpoint, `--resume`: the same children with the same
    supernet accuracies as an uninterrupted run."""
    common = (*TINY, "--controller", "random", "--trials", "4", "--epochs", "6",
              "--retrain", "0")
    ref = run_cli(*common, "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    killed = tmp_path / "killed"
    proc = _nas_bg(*common, "--out", str(killed))
    try:
        deadline = time.time() + 120
        while not (killed / "supernet.pt").exists() and time.time() < deadline \
                and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the search ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    epoch = torch.load(killed / "supernet.pt", weights_only=True)["epoch"]
    assert 1 <= epoch < 6
    p = run_cli("search", "--resume", str(killed), "--quiet")
    assert p.returncode == 0, p.stderr
    assert _results(killed) == _results(tmp_path / "ref")


@pytest.mark.parametrize("controller", ["evolution", "reinforce"])
def test_a_cap_that_admits_2_percent_samples_inside_it(tmp_path, controller):
    """max_flops at the 2nd percentile of nasnet-cell's sampled FLOPs: the controller redraws
    its proposals inside the cap, so every trial is trained and none is rejected."""
    from nas.experiment import run_search
    cfg = SearchConfig(space="nasnet-cell", controller=controller, evaluator="proxy:params",
                       trials=6, constraints={"max_flops": 1_480_000}, out=str(tmp_path / "c"))
    s = run_search(cfg)
    assert s.finished and s.counts["ok"] == 6 and s.counts["rejected"] == 0
    assert all(r.result.get("flops") <= 1_480_000 for r in s.leaderboard)


def test_a_capped_supernet_trains_only_paths_inside_the_cap(tmp_path):
    """max_flops admitting ≈ 5% of exhaustive: the shared weights are trained on paths inside
    the cap (redrawn like the controller's asks), not on the whole space; every child scored
    is inside it too."""
    cap = 130_000
    (tmp_path / "cap.yaml").write_text(f"constraints: {{max_flops: {cap}}}\n")
    common = (*TINY, "--controller", "random", "--trials", "4", "--epochs", "1", "--retrain",
              "0", "--executor", "local", "--json")
    p = run_cli(*common, "--config", str(tmp_path / "cap.yaml"), "--out", str(tmp_path / "c"))
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["counts"]["ok"] == 4 and summary["counts"]["rejected"] == 0
    assert all(r["flops"] <= cap for r in summary["leaderboard"])
    capped = torch.load(tmp_path / "c" / "supernet.pt", weights_only=True)
    assert capped["log"][0]["paths_outside_caps"] == 0
    # the same run without the cap trains the same number of steps on the whole space: its
    # pool holds the modules of costly networks the capped one never built
    assert run_cli(*common, "--out", str(tmp_path / "u")).returncode == 0
    free = torch.load(tmp_path / "u" / "supernet.pt", weights_only=True)
    assert len(capped["net"]["specs"]) < 0.8 * len(free["net"]["specs"])


def test_export_the_found_cells_at_mobile_scale(capsys, tmp_path):
    """`nas export DIR -o preset=mobile`: the best cells of a digits search in NASNet-A
    mobile's network, its params and mult-adds printed next to NASNet-A mobile's."""
    from nas.cli import main
    out = tmp_path / "s"
    assert main(["search", "--space", "nasnet-cell", "--evaluator", "proxy:params", "--trials",
                 "2", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["export", str(out), "-o", "preset=mobile", "--format", "pt",
                 "--out", str(tmp_path / "m.pt")]) == 0
    text = capsys.readouterr().out
    assert "nasnet_a: 5.29M params, 573.43M mult-adds" in text
    from nas.genome import Genome
    from nas.constraints import cost_metrics
    g = Genome.from_dict(torch.load(tmp_path / "m.pt", weights_only=True)["genome"])
    assert g.input == (3, 224, 224) and g.num_classes == 1000
    c = cost_metrics(g)
    assert f"{c['params'] / 1e6:.2f}M params" in text.split(";")[0]


def test_epochs_typed_equal_to_the_default_are_kept(tmp_path):
    """``--epochs 4`` (the config's default value, typed) trains the supernet 4 epochs, not
    the evaluator's own default budget of 30."""
    out = tmp_path / "e4"
    p = run_cli(*TINY, "--controller", "random", "--trials", "1", "--epochs", "4",
                "--retrain", "0", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert torch.load(out / "supernet.pt", weights_only=True)["epoch"] == 4


def test_enas_finalists_are_rescored_until_the_top_holds_whole_split_scores(tmp_path):
    """30 children rewarded on batches of 64: after the search the leaderboard's top 10 are
    all scored on the whole validation split, and every child still holding a batch score
    ranks below them (no mixed scales at the top)."""
    summary, _ = _enas_search(tmp_path, 30)
    store = ExperimentStore.open(summary.root)
    try:
        top = store.leaderboard(10)
        rest = [r for r in store.rows("source='trained' AND status='ok'")
                if "batch_accuracy" not in r.result.metrics]
        best = json.loads((summary.root / "best.json").read_text())
        assert best["trial"] == top[0].number      # best.json follows the re-scored leader
    finally:
        store.close()
    assert all(r.result.metrics["scored_on"] == "validation split" for r in top)
    assert rest and all(r.accuracy <= top[-1].accuracy for r in rest)


def test_rescoring_continues_when_a_finished_search_is_resumed_with_more_trials(tmp_path):
    """A finished ENAS search resumed with more trials re-scores its new finalists too: no
    batch score among the top 10 afterwards."""
    from nas.experiment import run_search
    summary, _ = _enas_search(tmp_path, 12)
    run_search(resume=summary.root, overrides={"trials": 24})
    store = ExperimentStore.open(summary.root)
    try:
        assert store.counts()["trained"] == 24
        assert all(r.result.metrics.get("scored_on") == "validation split"
                   for r in store.leaderboard(10))
    finally:
        store.close()
