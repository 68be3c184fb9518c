"""Data-parallel supernet training (``--evaluator supernet --workers N``, Ray Train, gloo on CPU).

Two workers compute a data-parallel version of the one-process schedule: the same path per
step, the batch split in two, the path's gradients summed. Batch norms see each half's
statistics (DDP without SyncBN), so the reference is the one-process run that splits each
batch the same way (``Shards(2)``) — not the plain run, which the test shows differs."""
import io
import json
import os

import pytest
import torch

from evaluators.supernet import Shards, SupernetEvaluator
from nas.config import SearchConfig
from nas.experiment import load_data
from search_spaces import SPACES
from tests.conftest import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ("search", "--space", "exhaustive", "--evaluator", "supernet", "--quiet",
        "--controller", "random", "--batch-size", "64")


def _evaluator(space):
    ev = SupernetEvaluator()
    ev.space = space
    return ev


def _train(cfg, epochs: int, shards=None, ev=None, upto=None):
    data = load_data(cfg)
    ev = ev or _evaluator(SPACES.get(cfg.space)())
    dd = data.to("cpu")
    while ev.epoch < (upto or epochs):
        ev.train_epoch(dd, cfg.seed, cfg.recipe, epochs, shards=shards)
    return ev


def _tensors(state: dict) -> dict:
    """name -> tensor of a checkpoint: every pool module's parameters and buffers, and the
    momentum buffers."""
    out = {f"net.{k}.{n}": t for k, m in state["net"]["modules"].items() for n, t in m.items()}
    out.update({f"momentum.{k}": t for k, t in state["momentum"].items()})
    return out


def _close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.allclose(a[k].float(), b[k].float(), rtol=1e-5, atol=1e-6) for k in a)


def test_split_batch_in_one_process_resumes_exactly_and_differs_from_the_plain_run():
    """The one-process reference of 2 workers: a checkpoint after epoch 1 resumes to the same
    weights as 2 uninterrupted epochs; and it is not the plain schedule (BN per half)."""
    cfg = SearchConfig().replace(space="exhaustive", batch_size=64)
    full = _train(cfg, 2, Shards(2))
    first = _train(cfg, 2, Shards(2), upto=1)
    resumed = _evaluator(SPACES.get("exhaustive")())
    resumed.load_state_dict(torch.load(io.BytesIO(first.checkpoint_bytes()),
                                       weights_only=True))
    _train(cfg, 2, Shards(2), ev=resumed)
    assert full.log[-1]["workers"] == 2
    a, b = _tensors(full.state_dict()), _tensors(resumed.state_dict())
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    plain = _train(cfg, 2)
    assert not _close(_tensors(full.state_dict()), _tensors(plain.state_dict()))


@pytest.mark.slow
def test_two_workers_equal_the_split_batch_schedule_through_the_cli(tmp_path):
    """`nas search --workers 2`: the supernet trains as a 2-worker Ray Train job (gloo);
    its checkpoint, written after each epoch, holds the weights, BN statistics and momentum
    of the one-process split-batch run; the loss falls; `--resume` with one worker scores more
    children from the checkpoint without training again."""
    out = tmp_path / "run"
    p = run_cli(*TINY, "--epochs", "2", "--trials", "4", "--workers", "2", "--retrain", "0",
                "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["counts"]["ok"] == 4
    ck = torch.load(out / "supernet.pt", weights_only=True)
    assert ck["epoch"] == 2 and [r["workers"] for r in ck["log"]] == [2, 2]
    assert ck["log"][1]["train_loss"] < ck["log"][0]["train_loss"]
    cfg = SearchConfig.load(out / "config.yaml")
    ref = _train(cfg, 2, Shards(2))
    assert _close(_tensors(ck), _tensors(ref.state_dict()))
    assert [r["train_loss"] for r in ck["log"]] == pytest.approx(
        [r["train_loss"] for r in ref.log], rel=1e-5)

    before = {r["number"]: r["accuracy"] for r in summary["leaderboard"]}
    p = run_cli("search", "--resume", str(out), "--trials", "6", "--workers", "1", "--quiet",
                "--json")
    assert p.returncode == 0, p.stderr
    after = json.loads(p.stdout)
    assert after["counts"]["ok"] == 6
    assert {r["number"]: r["accuracy"] for r in after["leaderboard"]
            if r["number"] in before} == before
    assert torch.load(out / "supernet.pt", weights_only=True)["log"] == ck["log"]


@pytest.mark.parametrize("args,message", [
    (("--workers", str((os.cpu_count() or 1) + 1)), "data-parallel workers"),
    (("--workers", "2", "--cpus-per-trial", str(os.cpu_count() or 1)), "lower --workers"),
    (("--workers", "0"), "workers: must be ≥ 1"),
])
def test_bad_worker_counts_are_one_line(capsys, tmp_path, args, message):
    """More workers than the local Ray has CPUs for (Ray Train would wait for ever): one
    line, exit 2, before Ray starts or the directory is created."""
    from nas.cli import main
    code = main([*TINY, "--out", str(tmp_path / "x"), *args])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()
