"""evaluate(): training under a budget, metrics, determinism, failures as results; `nas train`."""
import json

import pytest
import torch

from nas.config import Budget, Recipe
from evaluators.datasets import load_dataset
from evaluators.train import evaluate, train_model
from nas import Genome, build, cost
from nas.builder import count_params

TINY = {
    "name": "tiny", "input": [1, 8, 8], "num_classes": 10,
    "stages": [
        {"name": "body", "block_name": "", "cell": {"nodes": [
            {"name": "conv", "op": "conv", "args": {"out_ch": 16, "kernel": 3}},
            {"name": "bn", "op": "bn"}, {"name": "relu", "op": "relu"},
            {"name": "conv2", "op": "conv", "args": {"out_ch": 32, "kernel": 3, "stride": 2}},
            {"name": "bn2", "op": "bn"}, {"name": "relu2", "op": "relu"}]}},
        {"name": "head", "block_name": "", "cell": {"nodes": [
            {"name": "pool", "op": "gap"}, {"name": "flatten", "op": "flatten"},
            {"name": "fc", "op": "linear", "args": {"out_ch": "K"}}]}},
    ],
}


@pytest.fixture(scope="module")
def tiny():
    return Genome.from_dict(TINY)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_trains_well_above_chance_with_full_metrics(tiny, digits):
    seen = []
    r = evaluate(tiny, Budget(epochs=4), digits, seed=0, device="cpu", threads=1,
                 callback=seen.append)
    assert r.ok, r.error
    m = r.metrics
    assert m["accuracy"] > 0.6                                   # chance is 0.1
    assert m["params"] == count_params(build(tiny)) and m["flops"] == cost(tiny).flops
    assert m["epochs"] == 4 and m["steps"] == 4 * (len(digits.train_y) // 64)
    assert m["latency_ms"] > 0 and m["train_seconds"] > 0 and m["device"] == "cpu"
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3, 4]
    assert seen == m["history"]                                  # one callback per epoch
    assert m["history"][-1]["accuracy"] == m["accuracy"]
    assert m["history"][-1]["train_loss"] < m["history"][0]["train_loss"]


def test_deterministic_on_cpu_for_a_seed(tiny, digits):
    a = evaluate(tiny, Budget(epochs=1), digits, seed=7, device="cpu", threads=1)
    b = evaluate(tiny, Budget(epochs=1), digits, seed=7, device="cpu", threads=1)
    c = evaluate(tiny, Budget(epochs=1), digits, seed=8, device="cpu", threads=1)
    def strip(r):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in r.metrics["history"]]
    assert strip(a) == strip(b)
    assert a.metrics["loss"] == b.metrics["loss"]
    assert c.metrics["loss"] != a.metrics["loss"]


def test_step_and_second_budgets(tiny, digits):
    r = evaluate(tiny, Budget(epochs=None, steps=5), digits, device="cpu")
    assert r.ok and r.metrics["steps"] == 5
    assert r.metrics["epochs"] == pytest.approx(5 / (len(digits.train_y) // 64))
    assert len(r.metrics["history"]) == 1                        # evaluated where it stopped
    r = evaluate(tiny, Budget(epochs=None, seconds=0.3), digits, device="cpu")
    assert r.ok and r.metrics["train_seconds"] >= 0.3
    r = evaluate(tiny, Budget(epochs=2, steps=3), digits, device="cpu")   # first limit wins
    assert r.metrics["steps"] == 3


def test_adamw_and_augmented_data(tiny):
    data = load_dataset("synthetic", input=(3, 16, 16), samples=256, augment=True)
    assert data.augment == ""                                    # synthetic has none
    r = evaluate(tiny, Budget(epochs=1), data, device="cpu",
                 recipe=Recipe(optimizer="adamw", lr=3e-3, weight_decay=0.05, batch_size=32))
    assert r.ok and r.metrics["params"] == count_params(build(tiny.with_input((3, 16, 16))))
    cifar_like = load_dataset("synthetic", input=(3, 16, 16), samples=64)
    cifar_like.augment = "crop_flip"
    assert evaluate(tiny, Budget(steps=2), cifar_like, device="cpu").ok


@pytest.mark.parametrize("fault,reason", [
    ("raise", r"^RuntimeError: injected fault \(testing hook NAS_FAULT=raise\) \(at train.py:"),
    ("nan", r"^non-finite loss: training loss nan in epoch 1"),
    ("oom", r"^out of memory: .*can't allocate memory"),
])
def test_failures_become_failed_results(tiny, digits, fault, reason):
    r = evaluate(tiny, Budget(steps=3), digits, device="cpu", fault=fault)
    assert r.status == "failed"
    assert __import__("re").search(reason, r.error), r.error
    assert r.metrics["flops"] == cost(tiny).flops and r.metrics["params"] > 0


def test_a_real_divergence_is_caught(tiny, digits):
    r = evaluate(tiny, Budget(epochs=1), digits, device="cpu",
                 recipe=Recipe(lr=1e12, label_smoothing=0.0))
    assert r.status == "failed" and r.error.startswith("non-finite loss"), r.error


def test_genome_that_cannot_take_the_input_fails_cleanly(digits):
    d = json.loads(json.dumps(TINY))
    d["input"] = [1, 64, 64]
    d["stages"][0]["cell"]["nodes"][0]["args"] = {"out_ch": 16, "kernel": 9,
                                                       "padding": 0}   # 8×8 -> 0×0
    g = Genome.from_dict(d)
    r = evaluate(g, Budget(epochs=1), digits, device="cpu")
    assert r.status == "failed" and r.error.startswith("GenomeError:"), r.error


def test_train_model_returns_the_trained_network(tiny, digits):
    model, r = train_model(tiny, Budget(epochs=2), digits, seed=0, device="cpu")
    model.eval()
    dd = digits.to("cpu")
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in dd.eval_batches(1000))
    assert correct / len(digits.eval_y) == pytest.approx(r.metrics["accuracy"])


# ----------------------------------------------------------------------------- nas train


def test_cli_train_json_and_checkpoint(cli, tmp_path):
    gfile = tmp_path / "tiny.json"
    gfile.write_text(json.dumps(TINY))
    ckpt = tmp_path / "tiny.pt"
    p = cli("train", str(gfile), "--epochs", "2", "--threads", "1", "--json", "--out", str(ckpt))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "ok" and out["split"] == "train/val" and out["genome"] == "tiny"
    saved = torch.load(ckpt, weights_only=False)
    model = build(Genome.from_dict(saved["genome"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    dd = load_dataset("digits", seed=0).to("cpu")
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in dd.eval_batches(1000))
    assert correct / len(dd.eval_y) == pytest.approx(out["metrics"]["accuracy"])
    assert saved["metrics"]["accuracy"] == out["metrics"]["accuracy"]


@pytest.mark.slow
def test_cli_train_test_split_and_best_json(cli, tmp_path):
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"trial": 3, "hash": "x", "genome": TINY}))
    p = cli("train", str(tmp_path), "--epochs", "1", "--test", "--threads", "1")
    assert p.returncode == 0, p.stderr
    assert "tiny: test accuracy" in p.stdout and "1437 train / 360 test" in p.stderr


@pytest.mark.parametrize("args,message", [
    (("nope-net",), "unknown net 'nope-net'"),
    (("resnet18", "--epochs", "0"), "epochs: must be ≥ 1"),
    (("resnet18", "--dataset", "cifar10"), "give --data-dir"),
    (("resnet18", "--threads", "0"), "--threads must be ≥ 1"),
    (("resnet18", "--config", "missing.yaml"), "cannot read config 'missing.yaml'"),
])
def test_cli_train_bad_input_is_one_line(cli, args, message):
    p = cli("train", *args)
    assert p.returncode == 2 and message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
