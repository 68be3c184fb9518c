"""``evaluate(genome, budget, data, seed, device) -> Result``: train a genome and measure it.

A pure function of its inputs (deterministic on CPU for a given seed and thread count). The
recipe: SGD with Nesterov momentum or AdamW, linear warm-up then cosine decay per step, label
smoothing, weight decay on conv/linear weights only; on CUDA mixed precision and channels-last.
The data stays on the device as uint8 tensors; batches are index gathers (no DataLoader).

Metrics of an ``ok`` result: ``accuracy`` (validation, last epoch), ``loss`` (validation),
``train_loss``, ``params``, ``flops`` (cost model, multiply-adds), ``latency_ms`` (batch 1,
median), ``train_seconds``, ``epochs``, ``steps``, ``history`` (per-epoch dicts); and
``test_accuracy``/``test_loss`` when the data carries its test split (a tabular benchmark). Non-finite
loss, out-of-memory and any exception give a ``failed`` result whose ``error`` says why.

Testing hook: ``fault="raise" | "nan" | "oom" | "exit"`` makes the first training step raise,
produce a NaN loss, allocate an impossible tensor on the device (a real allocator failure), or
kill the process (``os._exit``: a crashed worker, which Ray Tune retries). The search sets it per
trial from the ``NAS_FAULT`` environment variable (see ``nas.experiment``).
"""
from __future__ import annotations

import dataclasses
import math
import time
import traceback

from evaluators.base import EVALUATORS, EpochCallback, Evaluator
from evaluators.datasets import Data
from nas.config import Budget, Recipe
from nas.constraints import cost_metrics
from nas.errors import NasError
from nas.genome import Genome
from nas.loop import FAULTS
from nas.result import Result


class NonFiniteLoss(Exception):
    pass


class BadInit(NasError):
    """``init`` weights that do not fit the genome."""


def evaluate(genome: Genome, budget: Budget = Budget(), data: Data | None = None, seed: int = 0,
             device: str = "auto", *, recipe: Recipe = Recipe(),
             callback: EpochCallback | None = None, threads: int | None = None,
             fault: str | None = None) -> Result:
    """Train ``genome`` on ``data`` (default: digits) under ``budget`` and return its Result.

    ``callback(metrics)`` is called after each epoch with ``epoch``, ``accuracy``, ``loss``,
    ``train_loss``, ``seconds`` (Ray Tune reports, early stopping). ``threads`` sets
    ``torch.set_num_threads`` (the trial's CPUs) before anything is built.
    """
    return train_model(genome, budget, data, seed, device, recipe=recipe, callback=callback,
                       threads=threads, fault=fault)[1]


@EVALUATORS.register("train")
class TrainEvaluator(Evaluator):
    """Stand-alone training: the ground truth every cheaper evaluator is measured against."""

    name = "train"
    description = "stand-alone training under the budget (the ground truth; seconds per " \
                  "candidate on digits, minutes on real data)"
    default_executor = "ray"

    def evaluate(self, trial, data, *, device: str = "cpu", threads: int | None = None,
                 callback: EpochCallback | None = None) -> Result:
        model, result = train_model(trial.genome, trial.budget, data, trial.seed, device,
                                    recipe=trial.recipe, callback=callback, threads=threads,
                                    fault=trial.fault, cost=trial.cost)
        if model is not None and result.ok and getattr(trial, "keep_weights", False):
            from nas.export import checkpoint_bytes
            result = dataclasses.replace(result, weights=checkpoint_bytes(
                trial.genome, model.state_dict(), trial=trial.number))
        return result


def train_model(genome: Genome, budget: Budget = Budget(), data: Data | None = None,
                seed: int = 0, device: str = "auto", *, recipe: Recipe = Recipe(),
                callback: EpochCallback | None = None, threads: int | None = None,
                fault: str | None = None, cost: dict | None = None, init: dict | None = None):
    """:func:`evaluate` that also returns the trained model: ``(model | None, Result)``.
    ``init``: a state_dict to start from (e.g. a search's trained weights) instead of the
    seed's random initialisation; it must fit the genome exactly (else a NasError).
    ``cost``: the genome's cost metrics when the caller computed them (a search does, once per
    candidate on the driver, for a genome it already fitted to the data)."""
    import torch
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    if budget.epochs is None and budget.steps is None and budget.seconds is None:
        raise NasError("budget: set at least one of epochs, steps, seconds")
    if fault is not None and fault not in FAULTS:
        raise NasError(f"fault must be one of {FAULTS}, got {fault!r}")
    if data is None:
        from evaluators.datasets import load_dataset
        data = load_dataset("digits", seed=seed)
    dev = torch.device(resolve_device(device))
    info: dict = dict(cost or {})
    try:
        if cost is None:
            genome = fit_to_data(genome, data)
            info = cost_metrics(genome)
        return _train(genome, budget, data, seed, dev, recipe, callback, fault, info, init)
    except BadInit:
        raise                   # the caller's input, not the candidate's failure
    except NonFiniteLoss as e:
        return None, Result.failed(f"non-finite loss: {e}", **info)
    except Exception as e:  # noqa: BLE001 — every failure becomes a result, never a crash
        if _is_oom(e):
            return None, Result.failed(f"out of memory: {_first_line(e)}", **info)
        return None, Result.failed(f"{type(e).__name__}: {_first_line(e)}{_where(e)}", **info)
    finally:
        if dev.type == "cuda":
            torch.cuda.empty_cache()


def resolve_device(device: str = "auto") -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise NasError("device cuda requested but no CUDA device is visible to this process")
    return device


def fit_to_data(genome: Genome, data: Data) -> Genome:
    """The genome with the data set's input shape and number of classes."""
    if tuple(genome.input) != tuple(data.shape):
        genome = genome.with_input(data.shape)
    if genome.num_classes != data.num_classes:
        genome = genome.with_classes(data.num_classes)
    return genome


def _train(genome, budget, data, seed, dev, recipe, callback, fault, info, init=None):
    import torch
    from nas.builder import build, count_params
    from nas.cost import check_fits

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    dd = data.to(dev)
    check_fits(genome, batch=recipe.batch_size)    # refuse before allocating, not in it
    model = build(genome)
    if init is not None:
        from nas.export import load_weights
        try:
            load_weights(model, init, "initial weights")
        except NasError as e:
            raise BadInit(str(e)) from None
    model = model.to(dev)
    fmt = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    info["params"] = count_params(model)

    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if recipe.optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=recipe.lr)
    else:
        opt = torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum,
                              nesterov=recipe.momentum > 0)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) \
        if cuda and recipe.amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    spe = dd.steps_per_epoch(recipe.batch_size)
    limits = [n for n in (budget.epochs and budget.epochs * spe, budget.steps) if n]
    total_steps = min(limits) if limits else None
    warmup = recipe.warmup_epochs * spe

    def lr_at(step: int, elapsed: float) -> float:
        frac = step / total_steps if total_steps else elapsed / budget.seconds
        if warmup and step < warmup:
            return recipe.lr * (step + 1) / warmup
        return recipe.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))

    history: list[dict] = []
    step, epoch, t0 = 0, 0, time.perf_counter()
    done = False
    model.train()
    while not done:
        epoch += 1
        loss_sum = torch.zeros((), device=dev)
        seen = 0
        for x, y in dd.train_batches(recipe.batch_size, gen):
            lr = lr_at(step, time.perf_counter() - t0)
            for g in opt.param_groups:
                g["lr"] = lr
            x = x.contiguous(memory_format=fmt)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = loss_fn(model(x), y)
            if fault and step == 0:
                loss = _inject(fault, loss, dev)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            loss_sum += loss.detach().float() * len(y)
            seen += len(y)
            step += 1
            elapsed = time.perf_counter() - t0
            if (budget.steps and step >= budget.steps) or (budget.seconds and elapsed >= budget.seconds):
                done = True
                break
        if budget.epochs and epoch >= budget.epochs:
            done = True
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise NonFiniteLoss(f"training loss {train_loss} in epoch {epoch} (lr {recipe.lr})")
        acc, val_loss = _validate(model, dd, loss_fn, fmt, recipe, amp_dtype)
        model.train()
        row = {"epoch": epoch, "accuracy": acc, "loss": val_loss, "train_loss": train_loss,
               "seconds": time.perf_counter() - t0}
        history.append(row)
        if callback is not None:
            callback(dict(row))
    train_seconds = time.perf_counter() - t0
    if not math.isfinite(history[-1]["loss"]):
        raise NonFiniteLoss(f"validation loss {history[-1]['loss']}")
    last = history[-1]
    if dd.test_x is not None:     # a tabular benchmark records the test split; a search never
        info["test_accuracy"], info["test_loss"] = _validate(model, dd, loss_fn, fmt, recipe,
                                                             amp_dtype, "test")
    return model, Result("ok", {
        "accuracy": last["accuracy"], "loss": last["loss"], "train_loss": last["train_loss"],
        **info, "latency_ms": _latency_ms(model, data.shape, dev, fmt),
        "train_seconds": train_seconds, "epochs": step / spe, "steps": step,
        "device": str(dev), "history": history})


def _validate(model, dd, loss_fn, fmt, recipe, amp_dtype, split: str = "eval"
              ) -> tuple[float, float]:
    import torch
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=dd.device)
    loss_sum = torch.zeros((), device=dd.device)
    with torch.no_grad(), torch.autocast(dd.device.type, dtype=amp_dtype,
                                         enabled=amp_dtype is not None):
        for x, y in dd.eval_batches(recipe.eval_batch_size, split):
            out = model(x.contiguous(memory_format=fmt)).float()
            loss_sum += loss_fn(out, y) * len(y)
            correct += (out.argmax(1) == y).sum()
    n = len(dd.test_y if split == "test" else dd.eval_y)
    return int(correct) / n, float(loss_sum) / n


def _latency_ms(model, shape, dev, fmt, runs: int = 20, budget_s: float = 0.5) -> float:
    """Median batch-1 inference latency (eval mode, no grad) on ``dev``."""
    import torch
    model.eval()
    x = torch.randn(1, *shape, device=dev).contiguous(memory_format=fmt)
    times = []
    with torch.no_grad():
        for k in range(runs + 2):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            model(x)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if k >= 2:
                times.append(time.perf_counter() - t)
                if sum(times) > budget_s:
                    break
    times.sort()
    return 1000 * times[len(times) // 2]


def _inject(fault: str, loss, dev):
    import torch
    if fault == "raise":
        raise RuntimeError("injected fault (testing hook NAS_FAULT=raise)")
    if fault == "oom":
        torch.empty(1 << 42, dtype=torch.uint8, device=dev)   # 4 TiB: a real allocator failure
    if fault == "exit":
        import os
        os._exit(3)
    return loss * float("nan")


def _is_oom(e: BaseException) -> bool:
    import torch
    if isinstance(e, torch.OutOfMemoryError):
        return True
    msg = str(e).lower()
    return isinstance(e, (RuntimeError, MemoryError)) and (
        "out of memory" in msg or "can't allocate memory" in msg or isinstance(e, MemoryError))


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    line = s.splitlines()[0] if s else ""
    return line if len(line) <= 300 else line[:297] + "..."


def _where(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    return f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
