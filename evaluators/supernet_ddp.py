"""Data-parallel supernet training with Ray Train (``--evaluator supernet --workers N``).

With ``--workers N`` (N > 1), or on a Ray cluster (``--address``; without ``--workers``: as
many workers as the cluster fits at ``--cpus-per-trial``/``--gpus-per-trial`` each), the
shared-weight epochs run as a Ray Train ``TorchTrainer`` job of N workers (gloo on CPU, NCCL
on GPU; one GPU share per worker from ``--gpus-per-trial``). Ray is started, or joined, by
:func:`evaluators.ray_tune.connect`, as for Ray Tune trials.

**One step on N ranks.** Every rank samples the *same* path (the path generator is seeded
per epoch, as in one process) and draws the same global batch (``--batch-size``), takes its
part of it (``tensor_split``: sizes differ by at most one), and runs the child forward and
backward on it; the path's gradients — each part's loss weighted by its share of the batch —
are then summed over the ranks in one flat ``all_reduce`` (with a count of non-finite losses,
so that all ranks stop together), and every rank applies the same SGD update. So the update is
the gradient of the mean loss over the global batch, as in one process; batch norms normalise
with each part's statistics (DDP without SyncBN), and rank 0's running statistics are kept
(children are recalibrated before scoring anyway). This is what
``SupernetEvaluator.train_epoch(shards=Shards(N))`` computes in one process, part after part:
the test compares the two.

Not ``DistributedDataParallel``: DDP wraps one fixed module, registers its parameters and
broadcasts them at construction; a single-path supernet runs a different child (a different
parameter set) every step, so DDP would have to wrap every step's child anew (a broadcast of
its weights and a rebuild of its buckets per step) or wrap the whole pool and mark most of it
unused every step (``find_unused_parameters``: a graph traversal per step). One all_reduce of
the path's flattened gradients is what DDP's reducer would do for that step, without either.

**Epochs per job.** A job trains every epoch due before the next child needs the supernet:
all ``--epochs`` at once in ``uniform`` mode, the epochs between two controller steps in
``enas`` mode (a job costs seconds to start: its worker processes import torch). After every
epoch rank 0 sends the whole supernet state (weights, BN statistics, momentum, log, the
controller's state) to a small writer actor placed on the driver's node, which writes
``DIR/supernet.pt`` atomically there — so the per-epoch checkpoint and its ``--resume`` work
unchanged, also on a cluster whose workers cannot see the driver's directory; every rank sends
a digest of its weights, and the driver checks that the ranks agree. When the job ends the
driver installs the last state and scores children as before.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from nas.errors import NasError
from nas.store import write_atomic

#: quiet, quick Ray Train: no per-run structured logs or metrics, and a controller that polls
#: its workers every 0.2 s instead of 2 s (a job's end is seen sooner)
_TRAIN_ENV = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
    "RAY_TRAIN_ENABLE_CONTROLLER_STRUCTURED_LOGGING": "0",
    "RAY_TRAIN_ENABLE_WORKER_STRUCTURED_LOGGING": "0",
    "RAY_TRAIN_METRICS_ENABLED": "0",
    "RAY_TRAIN_ENABLE_STATE_ACTOR_RECONCILIATION": "0",
}


def workers_of(execution) -> int:
    """Data-parallel workers of the shared-weight training: 1 (in this process) unless
    ``--workers N`` says more; 0 on a cluster without ``--workers`` (as many as it fits).
    Fails at once when a local Ray could never give N workers their CPUs (Ray Train would
    wait for them for ever)."""
    n = execution.workers
    if n is None:
        return 0 if execution.address else 1
    cpus = float(execution.cpus_per_trial)
    have = os.cpu_count() or 1
    if n > 1 and not execution.address and n * cpus > have + 1e-9:
        raise NasError(f"--workers {n}: {n} data-parallel workers × {cpus:g} CPU "
                       f"(--cpus-per-trial) need {n * cpus:g} CPUs; this machine's local Ray "
                       f"has {have}; lower --workers or --cpus-per-trial, or join a cluster "
                       f"with --address")
    return n


def _fits(execution) -> int:
    """How many workers the Ray cluster runs at once at the per-worker resources."""
    from evaluators.ray_tune import check_resources
    return check_resources(execution.cpus_per_trial, execution.gpus_per_trial)


# ============================================================================ the driver

_started = False        # this module started the local Ray (and shuts it down when done)


def train(evaluator, data, due: int, seed: int, recipe, epochs: int, *, done: bool) -> None:
    """Train ``evaluator``'s supernet from its epoch to ``due`` as one Ray Train job, then
    install the result; ``done``: no more training follows (a Ray this module started is shut
    down then, or at any error)."""
    global _started
    for k, v in _TRAIN_ENV.items():
        os.environ.setdefault(k, v)
    x = evaluator.execution
    from evaluators.ray_tune import connect, device_of
    try:
        _started = connect(x.address) or _started
        have = _fits(x)
        n = evaluator.workers or have
        if n > have:
            raise NasError(f"--workers {n}: the Ray cluster runs only {have} workers of "
                           f"{x.cpus_per_trial:g} CPU/{x.gpus_per_trial:g} GPU at once; lower "
                           f"--workers or --cpus-per-trial/--gpus-per-trial")
        if recipe.batch_size < n:
            raise NasError(f"--workers {n}: the batch of {recipe.batch_size} cannot be split "
                           f"across {n} data-parallel workers")
        device = device_of(x)
        _run_job(evaluator, data, due, seed, recipe, epochs, n, device)
    except BaseException:
        done = True
        raise
    finally:
        if done and _started:
            import ray
            ray.shutdown()
            _started = False


def _run_job(evaluator, data, due, seed, recipe, epochs, n: int, device: str) -> None:
    import ray
    import torch
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    x = evaluator.execution
    root = evaluator.root
    target = evaluator.checkpoint_path()
    here = ray.get_runtime_context().get_node_id()
    writer = ray.remote(num_cpus=0)(_Writer).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(target)
    payload = ray.put({"cls": type(evaluator), "options": _options(evaluator),
                       "state": evaluator.state_dict(), "space": evaluator.space,
                       "controller": evaluator.controller, "data": data, "seed": seed,
                       "recipe": recipe, "epochs": epochs, "due": due, "device": device,
                       "threads": max(1, int(x.cpus_per_trial))})
    gpu = device == "cuda"
    per_worker = {"CPU": float(x.cpus_per_trial), **({"GPU": float(x.gpus_per_trial)}
                                                     if gpu else {})}
    storage = Path(root).resolve() / "ray" if root is not None else None
    trainer = TorchTrainer(
        _train_loop, train_loop_config={"payload": payload, "writer": writer},
        scaling_config=ScalingConfig(num_workers=n, use_gpu=gpu,
                                     resources_per_worker=per_worker),
        torch_config=TorchConfig(backend="nccl" if gpu else "gloo"),
        run_config=RunConfig(name=f"supernet-{evaluator.epoch}-{due}",
                             storage_path=str(storage) if storage else None))
    try:
        trainer.fit()
    except Exception as e:  # noqa: BLE001 — Ray Train wraps the worker's error
        raise NasError(f"data-parallel supernet training ({n} workers) failed: "
                       f"{_last_line(e)}") from None
    blob, digests = ray.get(writer.result.remote())
    ray.kill(writer)
    if blob is None:
        raise NasError("data-parallel supernet training ended without a state")
    for epoch, ranks in sorted(digests.items()):
        if len(ranks) != n or len(set(ranks.values())) != 1:
            raise NasError(f"data-parallel supernet training: the {n} workers disagree on the "
                           f"weights after epoch {epoch} ({len(set(ranks.values()))} "
                           f"different, {len(ranks)} reported)")
    state = torch.load(io.BytesIO(blob), weights_only=True)
    evaluator.load_state_dict(state)


def _options(evaluator) -> dict:
    import dataclasses
    return dataclasses.asdict(evaluator.options)


def _last_line(e: BaseException) -> str:
    """The worker's own error (``NasError: …``), not Ray's wrapping of it."""
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    for s in reversed(lines):
        if s.startswith("nas.errors.NasError:"):
            return s.split(":", 1)[1].strip()
    return lines[-1][:300] if lines else type(e).__name__


class _Writer:
    """On the driver's node: writes each epoch's state rank 0 sends to DIR/supernet.pt and
    keeps the last one; collects each rank's weight digest per epoch."""

    def __init__(self, path: str | None):
        self.path = path
        self.blob = None
        self.digests: dict[int, dict[int, str]] = {}

    def put(self, epoch: int, blob: bytes) -> None:
        self.blob = blob
        if self.path is not None:
            write_atomic(Path(self.path), blob)

    def digest(self, epoch: int, rank: int, text: str) -> None:
        self.digests.setdefault(epoch, {})[rank] = text

    def result(self):
        return self.blob, self.digests


# ============================================================================ the workers


class Ranks:
    """This worker's part of each step (its rank's, of ``world``); sums over the ranks by
    ``all_reduce`` (the interface of :class:`evaluators.supernet.Shards`)."""

    def __init__(self, world: int, rank: int, device):
        self.world, self.mine, self.device = world, [rank], device

    def reduce(self, params: list, bad: int) -> int:
        import torch
        import torch.distributed as dist
        flat = torch.cat([p.grad.reshape(-1) for p in params] +
                         [torch.tensor([float(bad)], device=self.device)])
        dist.all_reduce(flat)
        i = 0
        for p in params:
            k = p.numel()
            p.grad.copy_(flat[i:i + k].view_as(p.grad))
            i += k
        return int(flat[-1].item())

    def total(self, values: list) -> list:
        import torch
        import torch.distributed as dist
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()


def _train_loop(config: dict) -> None:
    """One Ray Train worker: rebuild the supernet from the driver's state, train the epochs
    due on this rank's parts, send the state (rank 0) and a weight digest after each."""
    import ray
    import ray.train
    import torch
    p = ray.get(config["payload"])
    writer = config["writer"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(p["threads"])
    if p["device"] == "cuda":
        from ray.train.torch import get_device
        device = get_device()          # the GPU Ray gave this worker
    else:
        device = torch.device("cpu")
    ev = p["cls"](**p["options"])
    ev.space, ev.controller = p["space"], p["controller"]
    ev.load_state_dict(p["state"])
    dd = p["data"].to(device)
    shards = Ranks(world, rank, device)
    while ev.epoch < p["due"]:
        ev.train_epoch(dd, p["seed"], p["recipe"], p["epochs"], shards=shards)
        if rank == 0:
            ray.get(writer.put.remote(ev.epoch, ev.checkpoint_bytes()))
        ray.get(writer.digest.remote(ev.epoch, rank, ev.weights_digest()))


__all__ = ["train", "workers_of", "Ranks"]

