"""Weight sharing, measured: does the supernet rank networks like stand-alone training does?

    python benchmarks/supernet.py ranking [--epochs 40] [--networks N] [--trials 300]
    python benchmarks/supernet.py nasnet  [--epochs 30] [--trials 400] [--batch 32]
    python benchmarks/supernet.py throughput [--epochs 2] | long [--epochs 100 --batch 32]
    python benchmarks/supernet.py sweep|bisect [--steps 300 --batch 32]
    python benchmarks/supernet.py ddp [--epochs 3 --spaces exhaustive,nasnet-cell]

``ranking`` (space ``exhaustive``, digits): trains a supernet through the real search
(``nas search --evaluator supernet``) for each training mode (``uniform``: single-path
one-shot; ``enas``: paths from the REINFORCE controller, epochs alternating with controller
steps) and each BN choice at training time (affine on/off), then scores the table's networks
(all 6,269, or a fixed random sample of ``--networks``) with inherited weights, with and
without per-child BN recalibration; reports Spearman ρ and Kendall τ with the table's
stand-alone validation accuracy (``exhaustive-digits``, mean over seeds), top-10% precision,
and the ``params``/``flops`` baselines on the same networks.

``nasnet`` (space ``nasnet-cell``, digits): an ENAS search with REINFORCE as a user types it;
supernet training images/s next to a stand-alone child's, child evaluations per hour, peak RSS,
the controller's learning curve (mean reward and policy entropy per slice of trials; PNG) and
the all-skip check (share of sampled children without a parametrised op on their cells).

``ddp``: supernet training with 1 worker (in this process) and 2 data-parallel Ray Train
workers (gloo) side by side, through the real search (``--workers``, one trial, no retrain):
steady images/s (median over the epochs after the first, which also builds the pool) and the
wall time of the whole search (for 2 workers: with starting Ray and the Train job).

Results merge into ``benchmarks/results/supernet.json`` (+ ``supernet.md`` and PNGs).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results"
RESULTS = OUT / "supernet.json"
PROXIES = {"params": 0.150, "flops": 0.163, "jacob_cov": 0.133}   # proxies.json, ρ (val)


def _load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def _save(d: dict, key: str) -> None:
    """Write ``d[key]`` into the results file (re-read first: the parts run concurrently)."""
    cur = _load()
    cur[key] = d[key]
    RESULTS.write_text(json.dumps(cur, indent=1))


def _machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def correlations(x, y) -> dict:
    from scipy.stats import kendalltau, spearmanr
    return {"spearman": round(float(spearmanr(x, y)[0]), 4),
            "kendall": round(float(kendalltau(x, y)[0]), 4)}


def top_precision(x, y, frac: float = 0.1) -> float:
    k = max(1, int(len(x) * frac))
    ix = set(sorted(range(len(x)), key=lambda i: -x[i])[:k])
    iy = set(sorted(range(len(y)), key=lambda i: -y[i])[:k])
    return round(len(ix & iy) / k, 4)


# ============================================================================ ranking


def train_supernet(mode: str, affine: bool, epochs: int, trials: int, work: Path) -> Path:
    from nas.config import SearchConfig
    from nas.experiment import run_search
    out = work / f"exhaustive-{mode}-{'affine' if affine else 'noaffine'}"
    cfg = SearchConfig(space="exhaustive", evaluator="supernet",
                       controller="reinforce" if mode == "enas" else "random",
                       evaluator_options={"mode": mode, "affine": affine},
                       trials=trials if mode == "enas" else 1, retrain=0,
                       out=str(out)).replace(epochs=epochs)
    t = time.time()
    run_search(cfg)
    (out / "wall.txt").write_text(str(time.time() - t))
    return out


def score_all(run: Path, recal: int, items: list, data) -> tuple[list, float]:
    import torch
    from evaluators.supernet import SupernetEvaluator
    from evaluators.base import EvaluationContext
    from nas.config import Recipe
    from search_spaces import get_space
    ck = torch.load(run / "supernet.pt", weights_only=True)
    o = ck["options"]
    ev = SupernetEvaluator(mode="uniform", affine=o["affine"], recalibrate=recal, val_images=0)
    ev.net.load_state_dict(ck["net"])
    space = get_space("exhaustive")
    ev.prepare(EvaluationContext(space, "digits", data))
    dd = ev._device_data(data, "cpu")
    out, t = [], time.perf_counter()
    for n, (h, a) in enumerate(items):
        g = ev.genome(a, data)
        out.append(ev.score(g, dd, 0, n, Recipe())[0])
    return out, (time.perf_counter() - t) / len(items)


def ranking(args) -> None:
    import torch
    torch.set_num_threads(1)
    from evaluators.table import load_table
    from nas.config import SearchConfig
    from nas.experiment import load_data
    table = load_table("exhaustive-digits")
    rows = list(table.rows.items())
    if args.networks and args.networks < len(rows):
        rows = random.Random(0).sample(rows, args.networks)
    items = [(h, r["assignment"]) for h, r in rows]
    truth = [table.final(h) for h, _ in rows]
    data = load_data(SearchConfig())
    res = _load()
    rk = res.setdefault(args.key, {"networks": len(items), "epochs": args.epochs,
                                   "enas_trials": args.trials, "runs": {}})
    base = {"params": correlations([r["params"] for _, r in rows], truth),
            "flops": correlations([r["flops"] for _, r in rows], truth)}
    for k, name in (("params", "params"), ("flops", "flops")):
        base[k]["top10_precision"] = top_precision([r[name] for _, r in rows], truth)
    rk["baselines_same_networks"] = base
    work = Path(args.work)
    for mode in args.modes.split(","):
        for affine in [a == "true" for a in args.affine.split(",")]:
            run = work / f"exhaustive-{mode}-{'affine' if affine else 'noaffine'}"
            if not (run / "wall.txt").exists():
                train_supernet(mode, affine, args.epochs, args.trials, work)
            ck = torch.load(run / "supernet.pt", weights_only=True)
            for recal in [int(r) for r in args.recal.split(",")]:
                key = f"{mode}/affine={affine}/recalibrate={recal}"
                if key in rk["runs"]:
                    continue
                scores, per = score_all(run, recal, items, data)
                r = {**correlations(scores, truth),
                     "top10_precision": top_precision(scores, truth),
                     "mean_supernet_accuracy": round(statistics.mean(scores), 4),
                     "ms_per_child": round(1000 * per, 1),
                     "train_seconds": round(float((run / "wall.txt").read_text()), 1),
                     "final_train_accuracy": round(ck["log"][-1]["train_accuracy"], 4)}
                rk["runs"][key] = r
                print(key, r, flush=True)
                rk["machine"] = _machine()
                _save(res, args.key)


# ============================================================================ nasnet


def nasnet(args) -> None:
    import torch
    torch.set_num_threads(args.threads)
    from nas.config import SearchConfig
    from nas.experiment import load_data, make_space, run_search
    from nas.store import ExperimentStore
    work = Path(args.work)
    out = work / "nasnet-enas"
    cfg = SearchConfig(space="nasnet-cell", controller="reinforce", evaluator="supernet",
                       evaluator_options={"mode": "enas"}, trials=args.trials, retrain=0,
                       out=str(out)).replace(epochs=args.epochs, batch_size=args.batch,
                                             cpus_per_trial=args.threads)
    t = time.time()
    if (out / "trials.db").exists():
        run_search(resume=out)
    else:
        run_search(cfg)
    wall = time.time() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ck = torch.load(out / "supernet.pt", weights_only=True)
    store = ExperimentStore.open(out)
    try:
        rows = [r for r in store.rows() if r.source == "trained" and r.done]
    finally:
        store.close()
    eval_ms = [r.result.get("eval_ms") for r in rows]
    # evaluations that did not train an epoch first: the child's own cost
    prev, pure = 0, []
    for r, ms in zip(rows, eval_ms):
        e = r.result.get("supernet_epochs")
        if ms is not None and e == prev:
            pure.append(ms)
        prev = e
    log = ck["log"]
    sn_ips = statistics.median(e["images_per_s"] for e in log)
    # a stand-alone child of the same space: the median sampled child, trained 1 epoch
    data = load_data(cfg)
    space = make_space(cfg, data)
    from evaluators.train import train_model
    from nas.config import Budget, Recipe
    sa = []
    for seed in range(3):
        g = space.decode(space.sample(random.Random(seed)))
        _, r = train_model(g, Budget(epochs=1), data, 0, "cpu",
                           recipe=Recipe(batch_size=args.batch), threads=args.threads)
        sa.append(r.get("steps") * args.batch / r.get("history")[0]["seconds"])
    # learning curve and the all-skip check
    from nas.report import learning_curve
    curve = learning_curve(rows, 10)
    skip = []
    n = len(rows)
    for k in range(10):
        part = rows[k * n // 10:(k + 1) * n // 10]
        skip.append(round(sum(_param_free(space, r.assignment) for r in part) / max(1, len(part)),
                          3))
    res = _load()
    med = statistics.median(pure)
    res["nasnet"] = {
        "trials": args.trials, "epochs": args.epochs, "batch": args.batch,
        "threads": args.threads, "wall_seconds": round(wall, 1),
        "supernet_images_per_s": round(sn_ips, 1),
        "standalone_child_images_per_s": round(statistics.median(sa), 1),
        "child_eval_ms_median": round(med, 1),
        "child_evaluations_per_hour": int(3600_000 / med),
        "peak_rss_mb": round(rss_mb, 1), "pool_modules": log[-1]["modules"],
        "supernet_log": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in e.items()}
                         for e in log],
        "learning_curve": curve, "all_skip_share_per_slice": skip,
        "machine": _machine()}
    _save(res, "nasnet")
    _plot_curve(rows, OUT / "supernet-reinforce.png")
    print(json.dumps({k: v for k, v in res["nasnet"].items() if k != "supernet_log"}, indent=1))


def _param_free(space, a) -> bool:
    """Whether every op of both cells is parameter-free (identity on a matching input, pooling):
    the all-skip collapse of ENAS/DARTS."""
    free = {"identity", "avg_pool3x3", "max_pool3x3", "max_pool5x5", "max_pool7x7"}
    return all(v in free for k, v in a.items() if ".op_" in k)


def _plot_curve(rows, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    acc = np.array([r.accuracy or 0 for r in rows])
    ent = [r.result.get("policy_entropy") for r in rows]
    w = min(25, len(acc))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(range(w, len(acc) + 1), np.convolve(acc, np.ones(w) / w, "valid"), color="C0",
            label=f"reward (val-batch accuracy), mean of {w}")
    ax.set_xlabel("controller step (trial)")
    ax.set_ylabel("reward")
    ax2 = ax.twinx()
    ax2.plot(range(1, len(ent) + 1), ent, color="C3", label="policy entropy")
    ax2.set_ylabel("entropy (nats)")
    fig.legend(loc="center right", fontsize=8, bbox_to_anchor=(0.85, 0.5))
    ax.set_title("ENAS on nasnet-cell/digits: REINFORCE", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ============================================================================ throughput


def throughput(args) -> None:
    """Uniform supernet on nasnet-cell/digits with the shipped defaults: training images/s,
    child evaluations per hour (each child new, its modules already in the pool — as after a
    full training; 300 children built first), a stand-alone child's images/s."""
    import torch
    torch.set_num_threads(args.threads)
    from evaluators.base import EvaluationContext
    from evaluators.supernet import SupernetEvaluator
    from evaluators.train import train_model
    from nas.config import Budget, Recipe, SearchConfig
    from nas.experiment import load_data, make_space
    cfg = SearchConfig(space="nasnet-cell")
    data = load_data(cfg)
    space = make_space(cfg, data)
    recipe = Recipe(batch_size=args.batch)
    ev = SupernetEvaluator()
    ev.prepare(EvaluationContext(space, "digits", data))
    dd = ev._device_data(data, "cpu")
    log = [ev.train_epoch(dd, 0, recipe, args.epochs) for _ in range(args.epochs)]
    rng = random.Random(1)
    for _ in range(300):           # a search scores after all epochs: the pool is warm by then
        ev.net.child(ev.genome(space.sample(rng), data))
    # child evaluation, side by side on the same trained supernet and the same children:
    # the shipped scoring (BN recomputed on 4 batches of 64, the whole validation split) and a
    # cheaper one (1 batch of 64, 128 validation images), at 1 thread and at 2
    variants = [("defaults", {}), ("recalibrate=1, val_images=128",
                                   {"recalibrate": 1, "val_images": 128})]
    children = [ev.genome(space.sample(rng), data) for _ in range(args.children)]
    scoring = {}
    for threads in sorted({1, args.eval_threads}):
        torch.set_num_threads(threads)
        for name, opts in variants:
            sc = SupernetEvaluator(**opts)
            sc.space, sc.net = space, ev.net
            ms = []
            for n, g in enumerate(children):
                t = time.perf_counter()
                sc.score(g, dd, 0, n, recipe)
                ms.append(1000 * (time.perf_counter() - t))
            med = statistics.median(ms)
            scoring[f"{name}, {threads} thread(s)"] = {
                "ms_median": round(med, 1), "per_hour": int(3600_000 / med)}
            print(name, threads, round(med, 1), flush=True)
    torch.set_num_threads(args.threads)
    ms = [scoring["defaults, 1 thread(s)"]["ms_median"]]
    sa = []
    for seed in range(2):
        g = space.decode(space.sample(random.Random(seed)))
        _, r = train_model(g, Budget(epochs=1), data, 0, "cpu", recipe=recipe,
                           threads=args.threads)
        sa.append(r.get("steps") * args.batch / r.get("history")[0]["seconds"])
    res = _load()
    res["nasnet_throughput"] = {
        "mode": "uniform", "options": "defaults (affine=false, recalibrate=4, whole val split)",
        "batch": args.batch, "threads": args.threads, "epochs": args.epochs,
        "supernet_images_per_s": round(statistics.median(e["images_per_s"] for e in log), 1),
        "standalone_child_images_per_s": round(statistics.median(sa), 1),
        "child_eval_ms_median": round(statistics.median(ms), 1),
        "child_evaluations_per_hour": int(3600_000 / statistics.median(ms)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "train_accuracy_per_epoch": [round(e["train_accuracy"], 4) for e in log],
        "child_scoring": scoring, "children": args.children,
        "command": f"python benchmarks/supernet.py throughput --epochs {args.epochs} "
                   f"--eval-threads {args.eval_threads}",
        "machine": _machine()}
    _save(res, "nasnet_throughput")
    print(json.dumps(res["nasnet_throughput"], indent=1))


# ============================================================================ ddp


def ddp(args) -> None:
    """1 vs 2 data-parallel workers of the uniform supernet training, side by side."""
    import shutil
    import torch
    from nas.config import SearchConfig
    from nas.experiment import run_search
    runs = []
    for space in args.spaces.split(","):
        for workers in (1, 2):
            out = Path(args.work) / f"ddp-{space}-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            cfg = SearchConfig(space=space, evaluator="supernet", trials=1, retrain=0,
                               seed=0, out=str(out)).replace(
                epochs=args.epochs, batch_size=args.batch, workers=workers,
                cpus_per_trial=args.threads)
            t = time.perf_counter()
            run_search(cfg)
            wall = time.perf_counter() - t
            log = torch.load(out / "supernet.pt", weights_only=True)["log"]
            steady = [r["images_per_s"] for r in log[1:]] or [log[0]["images_per_s"]]
            runs.append({"space": space, "workers": workers,
                         "images_per_s": round(statistics.median(steady), 1),
                         "images_per_s_per_epoch": [round(r["images_per_s"], 1) for r in log],
                         "train_seconds": round(sum(r["seconds"] for r in log), 2),
                         "wall_seconds": round(wall, 1),
                         "train_loss_per_epoch": [round(r["train_loss"], 4) for r in log]})
            print(json.dumps(runs[-1]))
    for r in runs:
        one = next(x for x in runs if x["space"] == r["space"] and x["workers"] == 1)
        r["speedup"] = round(r["images_per_s"] / one["images_per_s"], 2)
    res = _load()
    res["ddp"] = {"mode": "uniform", "batch": args.batch, "epochs": args.epochs,
                  "cpus_per_worker": args.threads, "dataset": "digits", "runs": runs,
                  "command": f"python benchmarks/supernet.py ddp --epochs {args.epochs} "
                             f"--batch {args.batch} --spaces {args.spaces}",
                  "machine": _machine()}
    _save(res, "ddp")


# ============================================================================ long


def long(args) -> None:
    """A longer uniform training of the nasnet-cell supernet (shipped options), then 20 random
    children scored with inherited weights: does the supernet learn with more steps?"""
    import torch
    torch.set_num_threads(args.threads)
    from evaluators.base import EvaluationContext
    from evaluators.supernet import SupernetEvaluator
    from nas.config import Recipe, SearchConfig
    from nas.experiment import load_data, make_space
    cfg = SearchConfig(space="nasnet-cell")
    data = load_data(cfg)
    space = make_space(cfg, data)
    ev = SupernetEvaluator()
    ev.prepare(EvaluationContext(space, "digits", data))
    dd = ev._device_data(data, "cpu")
    t0, log = time.time(), []
    for _ in range(args.epochs):
        log.append(ev.train_epoch(dd, 0, Recipe(batch_size=args.batch), args.epochs))
        print(log[-1], flush=True)
    rng = random.Random(5)
    accs = [ev.score(ev.genome(space.sample(rng), data), dd, 0, n, Recipe())[0]
            for n in range(20)]
    res = _load()
    res["nasnet_long"] = _long_result(args, log, accs, time.time() - t0)
    _save(res, "nasnet_long")


def _long_result(args, log, accs, seconds) -> dict:
    return {"epochs": args.epochs, "batch": args.batch,
            "steps": args.epochs * (1150 // args.batch), "seconds": round(seconds, 1),
            "train_accuracy_every_10": [round(e["train_accuracy"], 3) for e in log[9::10]],
            "train_loss_every_10": [round(e["train_loss"], 3) for e in log[9::10]],
            "children_val_acc": [round(a, 3) for a in accs],
            "command": f"python benchmarks/supernet.py long --epochs {args.epochs} "
                       f"--batch {args.batch}", "machine": _machine()}


# ============================================================================ sweep

#: path sets of the sweep: K fixed children cycled (0: a uniform path per step), optionally
#: with decisions restricted (every block combines by add; only parametrised ops)
_PARAM_OPS = ("conv1x1", "conv3x3", "sep_conv3x3", "sep_conv5x5", "dil_conv3x3", "conv1x3_3x1")
SWEEP = [("K=1", 1, {}), ("K=5", 5, {}), ("K=20", 20, {}), ("K=100", 100, {}),
         ("uniform", 0, {}), ("uniform, combine=add only", 0, {"combine": ("add",)}),
         ("uniform, parametrised ops only", 0, {"op_a": _PARAM_OPS, "op_b": _PARAM_OPS})]


def _probe(space, data, paths, args, r) -> dict:
    """``args.steps`` shipped training steps (the evaluator's optimizer, loss, lr schedule of
    an ``args.total``-step run) over the paths ``paths(step, rng)`` gives; training loss /
    accuracy and the median gradient norm of the path per 50 steps."""
    import torch
    from torch import nn
    from evaluators.base import EvaluationContext
    from evaluators.supernet import SupernetEvaluator
    from evaluators.supernet_net import SGD
    ev = SupernetEvaluator()
    ev.prepare(EvaluationContext(space, "digits", data))
    dd = ev._device_data(data, "cpu")
    opt = SGD(ev.net, r.momentum, r.weight_decay)
    rng = random.Random(0)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=r.label_smoothing)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    step, rows, acc, t0 = 0, [], [0.0, 0, 0, []], time.time()
    while step < args.steps:
        for x, y in dd.train_batches(args.batch, gen):
            lr = r.lr * 0.5 * (1 + math.cos(math.pi * min(step / args.total, 1.0)))
            net = ev.net.child(ev.genome(paths(step, rng), data))
            net.train()
            o = net(x)
            loss = loss_fn(o, y)
            loss.backward()
            gs = [p.grad for key in net.pool_keys for p in ev.net.pool[key].parameters()
                  if p.grad is not None]
            acc[3].append(float(torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(g) for g in gs]))))
            opt.step(lr, net.pool_keys)
            acc[0] += float(loss.detach()) * len(y)
            acc[1] += int((o.argmax(1) == y).sum())
            acc[2] += len(y)
            step += 1
            if step % 50 == 0:
                rows.append({"step": step, "loss": round(acc[0] / acc[2], 3),
                             "accuracy": round(acc[1] / acc[2], 3),
                             "grad_norm_median": round(statistics.median(acc[3]), 2)})
                acc = [0.0, 0, 0, []]
            if step >= args.steps:
                break
    return {"curve": rows, "pool_modules": len(ev.net.pool),
            "seconds": round(time.time() - t0, 1)}


def _probe_setup(args, options=None):
    import torch
    torch.set_num_threads(args.threads)
    from nas.config import Recipe, SearchConfig
    from nas.experiment import load_data, make_space
    cfg = SearchConfig(space="nasnet-cell", options=dict(options or {}))
    data = load_data(cfg)
    return make_space(cfg, data), data, Recipe(batch_size=args.batch)


def _probe_header(args, r) -> dict:
    return {"steps": args.steps, "batch": args.batch, "lr_schedule_steps": args.total,
            "recipe": {"lr": r.lr, "momentum": r.momentum, "weight_decay": r.weight_decay,
                       "label_smoothing": r.label_smoothing}, "runs": {}}


def _probe_save(part: str, key: str, out: dict, args) -> None:
    out["command"] = (f"python benchmarks/supernet.py {part} --steps {args.steps} "
                      f"--batch {args.batch} --total {args.total}")
    out["machine"] = _machine()
    res = _load()
    res[key] = out
    _save(res, key)


def sweep(args) -> None:
    """Where does shared training break? K fixed children cycled, K = 1 … uniform, and two
    restricted uniform spaces (:func:`_probe`)."""
    space, data, r = _probe_setup(args)
    out = _probe_header(args, r)
    for name, k, restrict in SWEEP:
        fixed = [space.sample(random.Random(100 + i)) for i in range(k)]

        def paths(step, rng, k=k, fixed=fixed, restrict=restrict):
            a = dict(fixed[step % k] if k else space.sample(rng))
            for d in space.decisions:
                for kind, vals in restrict.items():
                    if d.name.endswith(kind) and a[d.name] not in vals:
                        a[d.name] = rng.choice(vals)
            return a
        out["runs"][name] = run = _probe(space, data, paths, args, r)
        print(name, run["curve"][-1], run["pool_modules"], flush=True)
    _probe_save("sweep", "nasnet_sweep", out, args)


#: the bisection: which kind of decision, varied alone around one fixed child (pools replaced
#: by sep_conv3x3, so that only the varied decisions differ), stops shared training?
#: (name, space options, decision kinds varied, op set the varied ops draw from)
_NO_POOL = ("identity", "conv1x1", "conv3x3", "sep_conv3x3", "sep_conv5x5", "dil_conv3x3",
            "conv1x3_3x1")
BISECT = [(f"N={n}, {name}", {"N": n}, kinds, ops)
          for n in (1, 2)
          for name, kinds, ops in (
              ("fixed child", (), None),
              ("inputs vary", ("input_a", "input_b"), None),
              ("combine varies", ("combine",), None),
              ("ops vary (7 non-pool ops)", ("op_a", "op_b"), _NO_POOL),
              ("ops vary (sep3/sep5)", ("op_a", "op_b"), ("sep_conv3x3", "sep_conv5x5")),
              ("ops vary (identity/sep3)", ("op_a", "op_b"), ("identity", "sep_conv3x3")),
              ("ops vary (conv1x1/conv3x3/conv1x3_3x1)", ("op_a", "op_b"),
               ("conv1x1", "conv3x3", "conv1x3_3x1")),
              ("everything varies (ENAS's 5 ops)", ("input_a", "input_b", "combine", "op_a",
                                                    "op_b"),
               ("identity", "sep_conv3x3", "sep_conv5x5", "avg_pool3x3", "max_pool3x3")))]


def bisect(args) -> None:
    """:data:`BISECT`: each kind of decision varied alone, uniformly, around one fixed child."""
    _, _, r = _probe_setup(args)
    out = _probe_header(args, r)
    for name, options, kinds, ops in BISECT:
        space, data, _ = _probe_setup(args, options)
        base = {k: ("sep_conv3x3" if "pool" in str(v) else v)
                for k, v in space.sample(random.Random(100)).items()}

        def paths(step, rng, kinds=kinds, ops=ops, base=base, space=space):
            a = space.sample(rng)
            out = {}
            for k, v in a.items():
                if not k.endswith(tuple(kinds) or ("\0",)):
                    v = base[k]
                elif ops and k.endswith(("op_a", "op_b")) and v not in ops:
                    v = rng.choice(ops)
                out[k] = v
            return out
        out["runs"][name] = run = _probe(space, data, paths, args, r)
        print(name, run["curve"][-1], run["pool_modules"], flush=True)
    _probe_save("bisect", "nasnet_bisect", out, args)


# ============================================================================ main


def _ranking_md(rk) -> list:
    if not rk:
        return []
    lines = []
    b = rk["baselines_same_networks"]
    lines += [f"## Ranking on `exhaustive` ({rk['networks']} networks of the table, supernet "
              f"{rk['epochs']} epochs, ENAS {rk['enas_trials']} controller steps)", "",
              "| supernet | Spearman ρ | Kendall τ | top-10% precision | mean supernet acc "
              "| ms/child | train s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for k, r in rk["runs"].items():
        lines.append(f"| {k} | {r['spearman']} | {r['kendall']} | {r['top10_precision']} | "
                     f"{r['mean_supernet_accuracy']} | {r['ms_per_child']} | "
                     f"{r['train_seconds']} |")
    for k in ("params", "flops"):
        lines.append(f"| {k} (baseline, same networks) | {b[k]['spearman']} | "
                     f"{b[k]['kendall']} | {b[k]['top10_precision']} | | | |")
    lines.append(f"| jacob_cov (best proxy, all networks; proxies.json) | "
                 f"{PROXIES['jacob_cov']} | | | | | |")
    lines.append("")
    return lines


def write_md() -> None:
    res = _load()
    lines = ["# Supernet (weight sharing) benchmark", "",
             "`python benchmarks/supernet.py ranking|nasnet` — numbers in `supernet.json`.", ""]
    for key in ("ranking", "ranking_all"):
        lines += _ranking_md(res.get(key))
    tp = res.get("nasnet_throughput")
    if tp:
        lines += ["## nasnet-cell / digits, uniform supernet with the shipped defaults", "",
                  f"- batch {tp['batch']}, {tp['threads']} thread(s), {tp['epochs']} epochs: "
                  f"supernet training {tp['supernet_images_per_s']} images/s vs a stand-alone "
                  f"child {tp['standalone_child_images_per_s']} images/s",
                  f"- child evaluation (recalibration + whole validation split) "
                  f"{tp['child_eval_ms_median']} ms median → {tp['child_evaluations_per_hour']:,} "
                  f"per hour; peak RSS {tp['peak_rss_mb']} MB",
                  f"- train accuracy per epoch: {tp['train_accuracy_per_epoch']}"]
        for name, v in tp.get("child_scoring", {}).items():
            lines.append(f"- child scoring, {name}: {v['ms_median']} ms median → "
                         f"{v['per_hour']:,} per hour ({tp['children']} children)")
        lines += [f"- command: `{tp.get('command', 'python benchmarks/supernet.py throughput')}`",
                  f"- machine: {tp['machine']}", ""]
    lg = res.get("nasnet_long")
    if lg:
        lines += ["## nasnet-cell / digits, a longer uniform training", "",
                  f"- {lg['epochs']} epochs at batch {lg['batch']} ({lg['steps']} steps), "
                  f"{lg['seconds']} s: training accuracy on the sampled paths per 10 epochs "
                  f"{lg['train_accuracy_every_10']}, loss {lg['train_loss_every_10']}",
                  f"- validation accuracy of 20 random children (recalibrated): "
                  f"{lg['children_val_acc']}", f"- command: `{lg['command']}`",
                  f"- machine: {lg['machine']}", ""]
    for key, title in (("nasnet_sweep", "where shared training breaks (K fixed children "
                                         "cycled vs uniform paths)"),
                       ("nasnet_bisect", "which decision breaks it (one kind varied "
                                         "uniformly around a fixed child, pools replaced by "
                                         "sep_conv3x3)")):
        sw = res.get(key)
        if not sw:
            continue
        curve = next(iter(sw["runs"].values()))["curve"]
        lines += [f"## nasnet-cell / digits, {title}", "",
                  f"{sw['steps']} steps at batch {sw['batch']} with the shipped step (lr "
                  f"{sw['recipe']['lr']} cosine over {sw['lr_schedule_steps']} steps, momentum "
                  f"{sw['recipe']['momentum']}, wd {sw['recipe']['weight_decay']}, label "
                  f"smoothing {sw['recipe']['label_smoothing']}); per 50 steps: training "
                  "loss / accuracy / median gradient norm of the path", "",
                  "| paths | " + " | ".join(str(r["step"]) for r in curve) + " | modules |",
                  "|---|" + "---:|" * (len(curve) + 1)]
        for name, run in sw["runs"].items():
            lines.append(f"| {name} | " + " | ".join(
                f"{r['loss']} / {r['accuracy']} / {r['grad_norm_median']}" for r in run["curve"])
                + f" | {run['pool_modules']} |")
        lines += ["", f"- command: `{sw['command']}`", f"- machine: {sw['machine']}", ""]
    nn = res.get("nasnet")
    if nn:
        lines += ["## nasnet-cell / digits, ENAS with REINFORCE", "",
                  f"- {nn['trials']} controller steps, {nn['epochs']} supernet epochs, batch "
                  f"{nn['batch']}, {nn['threads']} thread(s); wall {nn['wall_seconds']} s",
                  f"- supernet training {nn['supernet_images_per_s']} images/s vs a stand-alone "
                  f"child {nn['standalone_child_images_per_s']} images/s",
                  f"- child evaluation {nn['child_eval_ms_median']} ms median → "
                  f"{nn['child_evaluations_per_hour']:,} per hour",
                  f"- peak RSS {nn['peak_rss_mb']} MB; {nn['pool_modules']} modules in the pool",
                  f"- learning curve (trials: mean reward / entropy): " + ", ".join(
                      f"{p['trials']}: {p['mean_reward']}/{p['entropy']}"
                      for p in nn["learning_curve"]),
                  f"- all-skip share per slice: {nn['all_skip_share_per_slice']}",
                  *([f"- epochs trained: {nn['epochs_trained']} (first version of the ENAS "
                     f"schedule)"] if nn.get("epochs_trained") else []),
                  *([f"- note: {nn['note']}"] if nn.get("note") else []),
                  f"- machine: {nn['machine']}", "",
                  "![REINFORCE on the supernet](supernet-reinforce.png)", ""]
    dp = res.get("ddp")
    if dp:
        lines += ["## Data-parallel supernet training (Ray Train, gloo): 1 vs 2 workers", "",
                  f"uniform mode, digits, global batch {dp['batch']}, {dp['epochs']} epochs, "
                  f"{dp['cpus_per_worker']} CPU (torch thread) per worker; images/s: median "
                  "over the epochs after the first; wall: the whole one-trial search "
                  "(2 workers: with starting Ray and the Train job)", "",
                  "| space | workers | images/s | speed-up | train s | wall s |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['space']} | {r['workers']} | {r['images_per_s']} | {r['speedup']} | "
                  f"{r['train_seconds']} | {r['wall_seconds']} |" for r in dp["runs"]]
        lines += ["", f"- command: `{dp['command']}`", f"- machine: {dp['machine']}", ""]
    (OUT / "supernet.md").write_text("\n".join(lines))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("part", choices=("ranking", "nasnet", "throughput", "long", "sweep", "bisect", "ddp",
                                    "md"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--total", type=int, default=3500, help="sweep: steps of the lr schedule")
    p.add_argument("--children", type=int, default=40)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--trials", type=int, default=300)
    p.add_argument("--networks", type=int, default=0, help="0: all networks of the table")
    p.add_argument("--modes", default="uniform,enas")
    p.add_argument("--affine", default="true,false")
    p.add_argument("--recal", default="4,0")
    p.add_argument("--key", default="ranking", help="results key (ranking_all: all networks)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-threads", type=int, default=2,
                   help="throughput: child scoring also measured at this many threads")
    p.add_argument("--spaces", default="exhaustive,nasnet-cell", help="ddp: the spaces")
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "supernet-bench"))
    args = p.parse_args(argv)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.part == "ranking":
        ranking(args)
    elif args.part == "nasnet":
        nasnet(args)
    elif args.part == "throughput":
        throughput(args)
    elif args.part == "long":
        long(args)
    elif args.part == "sweep":
        sweep(args)
    elif args.part == "bisect":
        bisect(args)
    elif args.part == "ddp":
        ddp(args)
    write_md()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
