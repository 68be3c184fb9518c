"""The two executors: ``local`` (in this process) and ``ray`` (Ray Tune trials).

``local`` runs one evaluation after another in the driver: no Ray start (≈ 15 s), no trial
overhead (≈ 50 ms) — for evaluators that cost less than that (a table lookup, a proxy, a
supernet child). Ctrl-C leaves the interrupted trial ``running`` in the store; ``--resume``
evaluates it again. ``ray`` hands the loop to :func:`evaluators.ray_tune.execute` (Ray is
imported only then).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from evaluators.base import EXECUTORS, Evaluator, Executor
from nas.loop import FINISHED


def local_device(execution) -> str:
    """The device an evaluation in this process runs on (``auto``: CUDA when there is one)."""
    import torch
    if execution.device != "auto":
        return execution.device
    return "cuda" if torch.cuda.is_available() else "cpu"


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    name = "local"
    description = "in this process, one evaluation at a time (no Ray): for cheap evaluators"

    def run(self, loop, evaluator: Evaluator, data, execution, root: Path,
            on_ready: Callable[[], None] = lambda: None) -> None:
        device = local_device(execution)
        threads = max(1, int(execution.cpus_per_trial))
        on_ready()
        try:
            while True:
                spec = loop.next_trial()
                if spec == FINISHED:
                    return
                result = evaluator.evaluate(spec, data, device=device, threads=threads,
                                            callback=lambda m, n=spec.number: loop.on_epoch(n, m))
                loop.complete(spec.number, result)
        except KeyboardInterrupt:     # Ctrl-C / SIGTERM: what finished is stored; the trial
            return                    # in flight stays `running` and is re-run on --resume


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    name = "ray"
    description = ("Ray Tune trials: local Ray by default, a cluster with --address; "
                   "per-trial CPUs/GPUs, ASHA, retries")

    def run(self, loop, evaluator: Evaluator, data, execution, root: Path,
            on_ready: Callable[[], None] = lambda: None) -> None:
        from evaluators import ray_tune
        ray_tune.execute(loop, evaluator, data, execution, root, on_ready,
                         tensorboard=execution.tensorboard)
