"""Weight sharing: one supernet holds every candidate op; a child inherits its weights.

**The supernet** (:class:`Supernet`) is built from the genome IR, not from a hand-written
module per space: a child is an assignment, ``space.decode(assignment)`` gives its genome, and
the child's forward runs that genome's lowered graph with the modules looked up in a shared
pool. A module's key is its node path (``cell_1.block0.a.separable_1``), its constructor
arguments and the ops of its *branch* (the nodes sharing its path prefix: ``block0.a`` is one
candidate op applied to one input). So

* the same (cell, block, side, op) gets the same weights in every child, whatever state it
  reads (ENAS's sharing); a 1×1 and a 3×3 conv on the same edge do not share, nor do their BNs;
* a child is exactly the stand-alone network: :meth:`Supernet.child` is an ``nn.Module`` whose
  parameters have the builder's names (``build(genome).load_state_dict(child.state_dict())``
  gives the same outputs), and only the child's modules compute (no sum over candidates);
* any space works whose decode writes each candidate op under a stable node path
  (``exhaustive``: ``cells.i.edgeJ_K.*``; ``nasnet-cell``: ``cell_i.blockK.{a,b}.*``).

A cell's 1×1 input conv whose input width differs between children (how many states the
previous cell concatenated) gets one weight per width (ENAS slices one max-size projection
instead; not done here).

**The evaluator** (``--evaluator supernet``) trains the shared weights lazily before the first
child evaluation that needs them, then scores each child on the validation split with inherited
weights (BN statistics recomputed on a few training batches first, by default). ``mode``:

* ``uniform`` — single-path one-shot (Guo et al. 2020): every training step samples a path
  uniformly; all ``--epochs`` are trained before the first child is scored; any controller
  then searches the trained supernet.
* ``enas`` — Pham et al. 2018: training paths are drawn from the search's controller
  (:meth:`controllers.base.Controller.sample`: its current policy), and shared-weight epochs
  alternate with controller steps: before trial n, ``ceil(n · epochs / trials)`` epochs are
  trained (the last epoch before the last trial); a child's reward is its accuracy on one
  validation batch of 64.

Everything is deterministic for a seed (each epoch seeds its own generators), and
``DIR/supernet.pt`` — weights, BN statistics, momentum buffers, the epoch log and the
controller's state — is written atomically after every epoch, so a search killed at any moment
resumes (``--resume``) to the same results as an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import random
import time
from pathlib import Path
from typing import Any

from evaluators.base import EVALUATORS, EpochCallback, EvaluationContext, Evaluator
from evaluators.train import fit_to_data
from nas.errors import NasError
from nas.genome import Genome
from nas.options import option
from nas.result import Result

CHECKPOINT = "supernet.pt"
FORMAT = "nas-supernet/1"


@dataclasses.dataclass(frozen=True)
class SupernetOptions:
    mode: str = option("uniform", "uniform: single-path one-shot (paths sampled uniformly, "
                       "then any controller searches); enas: paths sampled from the "
                       "controller, shared-weight epochs alternating with controller steps",
                       ("uniform", "enas"))
    affine: bool = option(False, "batch norms with affine parameters (false, the default: "
                          "DARTS/SPOS style; ranked better on the tabular benchmark)")
    recalibrate: int = option(4, "training batches to recompute a child's BN statistics on "
                              "before scoring it (0: the statistics of the shared training)")
    val_images: int = option(-1, "validation images a child is scored on (0: the whole split; "
                             "-1: the whole split for uniform, one batch of 64 for enas)")
    checkpoint: bool = option(True, f"write DIR/{CHECKPOINT} after every epoch (resume)")


@EVALUATORS.register("supernet")
class SupernetEvaluator(Evaluator):
    """Children scored with weights inherited from one trained supernet (milliseconds each)."""

    name = "supernet"
    description = ("weight sharing: children inherit the weights of one supernet trained for "
                   "--epochs (uniform single-path one-shot, or ENAS with the controller); "
                   "milliseconds per child; the top --retrain K are retrained stand-alone")
    Options = SupernetOptions
    default_executor = "local"
    executors = ("local",)
    default_retrain = 5

    def __init__(self, **options: Any):
        super().__init__(**options)
        o = self.options
        if o.recalibrate < 0 or o.val_images < -1:
            raise NasError("evaluator 'supernet': recalibrate must be ≥ 0 and val_images ≥ -1")
        from evaluators.supernet_net import Supernet
        self.net = Supernet(affine=o.affine)
        self.opt: SGD | None = None
        self.epoch = 0
        self.log: list[dict] = []
        self.root: Path | None = None
        self.controller = None
        self.trials = 1
        self.space = None
        self._dd = None
        self._data_id = None

    # ------------------------------------------------------------------ hooks
    def prepare(self, context: EvaluationContext) -> None:
        self.space = context.space
        if not hasattr(self.space, "decode"):
            raise NasError("evaluator 'supernet' needs a search space")

    def default_budget(self):
        from nas.config import Budget
        return Budget(epochs=30)

    def start(self, context: EvaluationContext) -> None:
        self.space = context.space
        self.root = Path(context.root) if context.root is not None else None
        self.controller = context.controller
        self.trials = max(1, int(context.trials or 1))
        if self.root is not None and (self.root / CHECKPOINT).is_file():
            self._load(self.root / CHECKPOINT)

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, trial, data, *, device: str = "cpu", threads: int | None = None,
                 callback: EpochCallback | None = None) -> Result:
        import torch
        if threads:
            torch.set_num_threads(max(1, int(threads)))
        t0 = time.perf_counter()
        try:
            dd = self._device_data(data, device)
            epochs = trial.budget.epochs or 1
            due = epochs if self.options.mode == "uniform" else \
                min(epochs, math.ceil(trial.number * epochs / self.trials))
            while self.epoch < due:
                self.train_epoch(dd, trial.seed, trial.recipe, epochs)
            acc, loss = self.score(trial.genome, dd, trial.seed, trial.number, trial.recipe)
        except NasError as e:
            return Result.failed(str(e))
        if not math.isfinite(loss):
            return Result.failed(f"non-finite validation loss of the child ({loss})")
        metrics = {"accuracy": acc, "loss": loss, "supernet_epochs": self.epoch,
                   "eval_ms": 1000 * (time.perf_counter() - t0)}
        h = self.controller.entropy() if self.controller is not None else None
        if h is not None:          # the controller's learning curve (nas report)
            metrics["policy_entropy"] = h
        return Result("ok", metrics)

    def _device_data(self, data, device):
        if self._dd is None or self._data_id is not data:
            self._dd, self._data_id = data.to(device), data
        return self._dd

    def _path(self, rng: random.Random) -> dict:
        if self.options.mode == "enas" and self.controller is not None:
            return self.controller.sample(rng)
        return self.space.sample(rng)

    def train_epoch(self, dd, seed: int, recipe, epochs: int) -> dict:
        """One epoch of shared-weight training: one sampled path per step."""
        import torch
        from torch import nn
        from evaluators.supernet_net import SGD
        if self.opt is None:
            self.opt = SGD(self.net, recipe.momentum, recipe.weight_decay)
        e = self.epoch
        rng = random.Random(f"{seed}:paths:{e}")
        gen = torch.Generator().manual_seed(hash_seed(f"{seed}:batches:{e}"))
        loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        spe = dd.steps_per_epoch(recipe.batch_size)
        total = spe * epochs
        t0 = time.perf_counter()
        loss_sum = correct = seen = 0.0
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(hash_seed(f"{seed}:dropout:{e}"))
            for k, (x, y) in enumerate(dd.train_batches(recipe.batch_size, gen)):
                step = e * spe + k
                lr = recipe.lr * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))
                genome = self.genome(self._path(rng), dd.data)
                net = self.net.child(genome)
                net.train()
                out = net(x)
                loss = loss_fn(out, y)
                if not torch.isfinite(loss):
                    raise NasError(f"supernet training: non-finite loss in epoch {e + 1}")
                loss.backward()
                self.opt.step(lr, net.pool_keys)
                loss_sum += float(loss.detach()) * len(y)
                correct += int((out.argmax(1) == y).sum())
                seen += len(y)
        secs = time.perf_counter() - t0
        self.epoch += 1
        row = {"epoch": self.epoch, "train_loss": loss_sum / max(seen, 1),
               "train_accuracy": correct / max(seen, 1), "seconds": secs,
               "images_per_s": seen / secs if secs > 0 else None,
               "modules": len(self.net.pool)}
        self.log.append(row)
        if self.root is not None and self.options.checkpoint:
            self._save(self.root / CHECKPOINT)
        return row

    def genome(self, assignment: dict, data) -> Genome:
        return fit_to_data(self.space.decode_cached(assignment), data)

    def score(self, genome: Genome, dd, seed: int, number: int, recipe) -> tuple[float, float]:
        """Accuracy and loss of a child with inherited weights on the validation split (or a
        batch of it), after recomputing its BN statistics on training batches."""
        import torch
        with torch.no_grad():
            return self._score(genome, dd, seed, number, recipe)

    def _score(self, genome, dd, seed, number, recipe):
        import torch
        from evaluators.supernet_net import recalibrate
        net = self.net.child(genome)
        rng = torch.Generator().manual_seed(hash_seed(f"{seed}:score:{number}"))
        if self.options.recalibrate:
            n = len(dd.train_y)
            b = min(recipe.batch_size, n)
            idx = torch.randperm(n, generator=rng)[:b * self.options.recalibrate]
            recalibrate(net, [dd.normalise(dd.train_x[idx[i:i + b]])
                              for i in range(0, len(idx), b)])
        net.eval()
        k = self.options.val_images
        if k == -1:
            k = 64 if self.options.mode == "enas" else 0
        x, y = dd.eval_x, dd.eval_y
        if k and k < len(y):
            idx = torch.randperm(len(y), generator=rng)[:k]
            x, y = x[idx], y[idx]
        out = net(dd.normalise(x)).float()
        loss = float(torch.nn.functional.cross_entropy(out, y))
        return float((out.argmax(1) == y).float().mean()), loss

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict:
        return {"format": FORMAT, "epoch": self.epoch, "log": list(self.log),
                "net": self.net.state_dict(),
                "momentum": dict(self.opt.buffers) if self.opt else {},
                "optimizer": [self.opt.momentum, self.opt.wd] if self.opt else None,
                "options": dataclasses.asdict(self.options),
                "controller": _plain(self.controller.state_dict())
                if self.controller is not None else None,
                # the generators: every epoch seeds its own from (seed, epoch), and a child's
                # scoring from (seed, trial): the epoch number above determines them all
                "rng": "per-epoch: sha1(f'{seed}:{paths|batches|dropout}:{epoch}')"}

    def _save(self, path: Path) -> None:
        import torch
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _load(self, path: Path) -> None:
        import torch
        from evaluators.supernet_net import SGD
        try:
            state = torch.load(path, weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise NasError(f"{path}: not a readable supernet checkpoint ({e})") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise NasError(f"{path}: not a supernet checkpoint of format {FORMAT}")
        if state["options"] != dataclasses.asdict(self.options):
            raise NasError(f"{path}: written with other supernet options "
                           f"({state['options']}); give another directory")
        self.net.load_state_dict(state["net"])
        self.epoch, self.log = state["epoch"], list(state["log"])
        if state["optimizer"] is not None:
            self.opt = SGD(self.net, *state["optimizer"])
            self.opt.buffers = dict(state["momentum"])


def hash_seed(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:15], 16)


def _plain(v):
    """JSON-ish data that ``torch.load(weights_only=True)`` reads back (no custom classes)."""
    import json
    return json.loads(json.dumps(v, default=repr))


def read_checkpoint(root: str | os.PathLike) -> dict | None:
    """The supernet checkpoint of an experiment directory (None if it has none)."""
    import torch
    p = Path(root) / CHECKPOINT
    return torch.load(p, weights_only=True) if p.is_file() else None


__all__ = ["SupernetEvaluator", "read_checkpoint"]
