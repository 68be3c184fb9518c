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
  validation batch of 64. When the search ends, its finalists are re-scored on the whole
  validation split (:meth:`SupernetEvaluator.finish`), so that the many children a batch of
  64 ties at the top are told apart by more than the tie-break (fewer parameters).

**Data-parallel** (``--workers N``, N > 1, or a Ray cluster with ``--address``): the epochs
due run as one Ray Train job of N workers (:mod:`evaluators.supernet_ddp`): every worker
samples the same path, takes its part of the global batch, and the path's gradients are summed
over the workers — what :meth:`SupernetEvaluator.train_epoch` computes in one process with
``shards=Shards(N)``; batch norms see each part's statistics, so N workers train a (slightly)
different supernet than one. The checkpoint is written after every epoch as in one process.
A search may be resumed with another ``--workers``; the epochs after it follow the new split.

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

from evaluators import supernet_ddp
from evaluators.base import EVALUATORS, EpochCallback, EvaluationContext, Evaluator
from evaluators.train import fit_to_data
from nas.errors import NasError
from nas.genome import Genome
from nas.options import option
from nas.result import Result
from nas.store import write_atomic

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
        self.execution = None
        self.workers = 1             # data-parallel workers (0: as many as the cluster fits)

    # ------------------------------------------------------------------ hooks
    def prepare(self, context: EvaluationContext) -> None:
        self.space = context.space
        if not hasattr(self.space, "decode"):
            raise NasError("evaluator 'supernet' needs a search space")
        if context.execution is not None:
            supernet_ddp.workers_of(context.execution)   # bad --workers: one line, now

    def default_budget(self):
        from nas.config import Budget
        return Budget(epochs=30)

    def start(self, context: EvaluationContext) -> None:
        self.space = context.space
        self.root = Path(context.root) if context.root is not None else None
        self.controller = context.controller
        self.trials = max(1, int(context.trials or 1))
        if context.execution is not None:
            self.execution = context.execution
            self.workers = supernet_ddp.workers_of(context.execution)
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
            self.train_to(due, data, dd, trial.seed, trial.recipe, epochs)
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

    def finish(self, store, data, *, device: str = "cpu") -> int:
        """When children were scored on a validation batch (``enas``'s default): re-score the
        finalists on the whole validation split until the leaderboard's top max(2K, 10), K the
        retrained count, and every child tied with the last of them hold whole-split scores (a
        batch of 64 ties many children at the top, and the leaderboard's tie-break, fewer
        parameters, would pick the cheapest). The batch score stays in the row as
        ``batch_accuracy``."""
        if self._val_images() == 0 or self.space is None:
            return 0
        dd = self._device_data(data, device)
        if self._val_images() >= len(dd.eval_y):
            return 0
        config = store.config()
        if self.epoch < (config.budget.epochs or 1):     # not trained here (no checkpoint)
            return 0          # (rows re-scored before are skipped: safe to run again)
        m = max(2 * (config.retrain if config.retrain is not None else self.default_retrain),
                10)
        done = 0
        while True:       # until the top m (and the children tied with the m-th) are all
            top = store.leaderboard(m)      # scored on the whole split: a re-scored child
            if not top:                     # may fall below children still holding a batch
                break                       # score, which are then re-scored in turn
            rows = store.rows("source='trained' AND status='ok' AND accuracy >= ? AND "
                              "json_extract(metrics, '$.batch_accuracy') IS NULL",
                              (top[-1].accuracy,),
                              order="accuracy DESC, params ASC, number ASC")
            if not rows:
                break
            for r in rows:
                acc, loss = self.score(Genome.from_dict(r.genome), dd, config.seed, r.number,
                                       config.recipe, whole=True)
                store.rescore(r.number, acc, batch_accuracy=r.accuracy, loss=loss,
                              scored_on="validation split")
            done += len(rows)
        return done

    def _val_images(self) -> int:
        k = self.options.val_images
        return (64 if self.options.mode == "enas" else 0) if k == -1 else k

    def _device_data(self, data, device):
        if self._dd is None or self._data_id is not data:
            self._dd, self._data_id = data.to(device), data
        return self._dd

    def _path(self, rng: random.Random) -> tuple[dict, bool]:
        """The path of a training step and whether it is inside the search's hard constraint:
        drawn uniformly (``uniform``) or from the controller (``enas``), redrawn inside the
        caps (``max_flops`` …) as the controller's asks are, so the shared weights are
        trained on the networks the search may pick."""
        if self.controller is None:
            return self.space.sample(rng), True
        draw = None if self.options.mode == "enas" else self.space.sample
        return self.controller.sample_feasible(rng, draw)

    def train_to(self, due: int, data, dd, seed: int, recipe, epochs: int) -> None:
        """Train the shared weights up to epoch ``due``: in this process, or, with several
        data-parallel workers (``--workers N``, ``--address``), as one Ray Train job for all
        the epochs due now (:mod:`evaluators.supernet_ddp`)."""
        if self.epoch >= due:
            return
        if self.workers != 1:
            supernet_ddp.train(self, data, due, seed, recipe, epochs, done=due >= epochs)
            return
        while self.epoch < due:
            self.train_epoch(dd, seed, recipe, epochs)

    def train_epoch(self, dd, seed: int, recipe, epochs: int,
                    shards: "Shards | None" = None) -> dict:
        """One epoch of shared-weight training: one sampled path per step.

        ``shards``: the global batch split into ``shards.world`` parts, of which this process
        computes ``shards.mine`` (a data-parallel worker: its rank's; in this process: all of
        them, one after another, as the reference the data-parallel run must equal); the path's
        gradients are summed over the parts (each part's loss weighted by its share of the
        batch), so the update is the gradient of the mean loss over the global batch. Batch
        norms see each part's statistics, as in DDP without SyncBN; the running statistics
        kept are part 0's (rank 0's)."""
        import torch
        from torch import nn
        from evaluators.supernet_net import SGD
        sh = shards or Shards()
        if recipe.batch_size < sh.world:
            raise NasError(f"supernet training: {sh.world} data-parallel workers need a batch "
                           f"size of at least {sh.world} (it is {recipe.batch_size})")
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
        outside = 0
        with torch.random.fork_rng(devices=[]):
            # dropout: one generator per part (the seed of part 0 is the one-process seed)
            drop = {r: torch.Generator().manual_seed(
                hash_seed(f"{seed}:dropout:{e}" + (f":{r}" if r else ""))).get_state()
                for r in sh.mine}
            for k, (x, y) in enumerate(dd.train_batches(recipe.batch_size, gen)):
                step = e * spe + k
                lr = recipe.lr * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))
                path, inside = self._path(rng)
                outside += not inside
                net = self.net.child(self.genome(path, dd.data))
                net.train()
                parts = (list(zip(x.tensor_split(sh.world), y.tensor_split(sh.world)))
                         if sh.world > 1 else [(x, y)])
                bad = 0
                for i, r in enumerate(sh.mine):
                    xr, yr = parts[r]
                    torch.default_generator.set_state(drop[r])
                    kept = [b.clone() for b in net.buffers()] if i else None
                    out = net(xr)
                    loss = loss_fn(out, yr)
                    bad += not bool(torch.isfinite(loss))
                    (loss if sh.world == 1 else loss * (len(yr) / len(y))).backward()
                    drop[r] = torch.default_generator.get_state()
                    if kept is not None:             # BN statistics: part 0's only
                        for b, v in zip(net.buffers(), kept):
                            b.copy_(v)
                    loss_sum += float(loss.detach()) * len(yr)
                    correct += int((out.argmax(1) == yr).sum())
                    seen += len(yr)
                params = self._path_params(net)
                if sh.reduce(params, bad):
                    for q in params:             # no stale gradient for the next attempt
                        q.grad = None
                    raise NasError(f"supernet training: non-finite loss in epoch {e + 1}")
                self.opt.step(lr, net.pool_keys)
        loss_sum, correct, seen = sh.total([loss_sum, correct, seen])
        secs = time.perf_counter() - t0
        self.epoch += 1
        row = {"epoch": self.epoch, "train_loss": loss_sum / max(seen, 1),
               "train_accuracy": correct / max(seen, 1), "seconds": secs,
               "images_per_s": seen / secs if secs > 0 else None,
               "modules": len(self.net.pool), "workers": sh.world,
               "paths_outside_caps": outside}
        self.log.append(row)
        if self.checkpoint_path() is not None:
            self._save(self.checkpoint_path())
        return row

    def _path_params(self, net) -> list:
        """The parameters of the path that have a gradient this step, in the path's order
        (the same on every rank: every rank runs the same child)."""
        return [p for key in net.pool_keys for p in self.net.pool[key].parameters()
                if p.grad is not None]

    def weights_digest(self) -> str:
        """A digest of the shared parameters and momentum buffers (data-parallel ranks must
        agree on it after every epoch; BN statistics are each rank's own)."""
        h = hashlib.sha1()
        for key in sorted(self.net.pool):
            for name, p in self.net.pool[key].named_parameters():
                h.update(f"{key}.{name}".encode())
                h.update(p.detach().cpu().contiguous().numpy().tobytes())
        if self.opt is not None:
            for name in sorted(self.opt.buffers):
                h.update(name.encode())
                h.update(self.opt.buffers[name].detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def genome(self, assignment: dict, data) -> Genome:
        return fit_to_data(self.space.decode_cached(assignment), data)

    def score(self, genome: Genome, dd, seed: int, number: int, recipe,
              whole: bool = False) -> tuple[float, float]:
        """Accuracy and loss of a child with inherited weights on the validation split (or a
        batch of it; ``whole``: the whole split), after recomputing its BN statistics on training
        batches."""
        import torch
        with torch.no_grad():
            return self._score(genome, dd, seed, number, recipe, whole)

    def _score(self, genome, dd, seed, number, recipe, whole: bool = False):
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
        k = 0 if whole else self._val_images()
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

    def checkpoint_bytes(self) -> bytes:
        import io
        import torch
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return buf.getvalue()

    def checkpoint_path(self) -> Path | None:
        """Where the checkpoint is written after every epoch (None: nowhere)."""
        if self.root is None or not self.options.checkpoint:
            return None
        return self.root / CHECKPOINT

    def _save(self, path: Path) -> None:
        write_atomic(path, self.checkpoint_bytes())

    def _load(self, path: Path) -> None:
        import torch
        try:
            state = torch.load(path, weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise NasError(f"{path}: not a readable supernet checkpoint ({e})") from None
        self.load_state_dict(state, path)

    def load_state_dict(self, state: dict, where: Any = "supernet state") -> None:
        from evaluators.supernet_net import SGD
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise NasError(f"{where}: not a supernet checkpoint of format {FORMAT}")
        if state["options"] != dataclasses.asdict(self.options):
            raise NasError(f"{where}: written with other supernet options "
                           f"({state['options']}); give another directory")
        self.net.load_state_dict(state["net"])
        self.epoch, self.log = state["epoch"], list(state["log"])
        self.opt = None
        if state["optimizer"] is not None:
            self.opt = SGD(self.net, *state["optimizer"])
            self.opt.buffers = dict(state["momentum"])


class Shards:
    """How a step's global batch is split: into ``world`` parts, of which this process
    computes ``mine``. The default is one part, computed here (plain training);
    ``Shards(2, [0, 1])`` computes both halves here, one after the other — what two
    data-parallel workers compute together (:class:`evaluators.supernet_ddp.Ranks`)."""

    def __init__(self, world: int = 1, mine: list[int] | None = None):
        self.world = world
        self.mine = list(range(world)) if mine is None else list(mine)

    def reduce(self, params: list, bad: int) -> int:
        """Sum the gradients of ``params`` and the count of non-finite losses over the
        processes that share the batch (here: nothing to sum)."""
        return bad

    def total(self, values: list) -> list:
        """Per-epoch sums over the processes (here: the values)."""
        return values


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
