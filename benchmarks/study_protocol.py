"""Searched networks against the classic fixed points, and controllers against each other.

:func:`classic_points` gives the classic networks of a space at its (small) default size, as
the space itself states them (:meth:`~nas.space.SearchSpace.projected_fixed_points`): the fixed
points of the space's bigger presets (``blocks``: ResNet-20 of ``cifar``, the ResNets/MobileNets
of ``imagenet``; ``nasnet-cell``: NASNet-A), each with the reason ``encode_strict`` gives for it
not being in the space as it is, and its *small-input variant* projected onto the space by the
space's own stated rule. A space without bigger presets has none.

:func:`run_study` runs a :class:`Protocol` on one Ray session (``benchmarks/study.py`` is the
command): per space, the classic points at the search budget on each seed's split; every
controller × seed searching with the same trial budget; then, chosen by validation accuracy
only, the best classic point, and per controller its best network and its best network within
the best classic's FLOPs (the *cap*), retrained with the longer budget on each seed and scored
on the held-out test split — the only use of that split. Goals (:func:`goals`):

1. the searched network of best validation accuracy within the cap beats the best classic
   point on mean test accuracy;
2. a learning controller's best-so-far curve, averaged over seeds, reaches random search's
   final best (averaged over seeds) in fewer trials than random's own averaged curve. Also
   reported, stricter and noisier: per seed, the trials to reach random's final best on the
   same seed (same split, so the same accuracy of every network), whose median must be below
   the trial random's best came at (``paired_met``).

Each part is an experiment directory under the work directory (the searches' own stores; the
evaluations of fixed genomes are sweep experiments, :func:`nas.experiment.evaluate_genomes`),
so an interrupted study continues.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nas.config import SearchConfig
from nas.errors import NasError
from nas.genome import Genome
from nas.space import SearchSpace
from pathlib import Path

from nas.store import DB, RETRAIN, ExperimentStore


# ============================================================================ classic points


@dataclass
class Classic:
    """A classic network as a point of a space: ``genome`` (small-input variant, None when it
    cannot be made), ``assignment`` (None when the variant is outside the space), ``reason``
    why the original is not in the default space, and the ``changes`` the variant makes."""

    name: str
    source: str                       # where the original is a fixed point ("blocks/cifar")
    genome: Genome | None
    assignment: dict | None
    reason: str | None = None         # encode_strict(original at the space's size) said this
    changes: list[str] = field(default_factory=list)
    same_as: str | None = None        # the variant equals an earlier one (same hash)

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "in_space": self.assignment is not None,
                "reason": self.reason, "changes": self.changes, "same_as": self.same_as,
                "hash": self.genome.hash if self.genome is not None else None}


def classic_points(space: SearchSpace) -> list[Classic]:
    """The classic points of ``space`` (its :meth:`projected_fixed_points`), a variant equal to
    an earlier one (same genome hash) marked ``same_as`` it."""
    out = [Classic(p["name"], p["source"], p["genome"], p["assignment"], p.get("reason"),
                   list(p.get("changes", ()))) for p in space.projected_fixed_points()]
    seen: dict[str, str] = {}
    for c in out:
        if c.genome is None:
            continue
        h = c.genome.hash
        if h in seen:
            c.same_as = seen[h]
        else:
            seen[h] = c.name
    return out


# ============================================================================ the protocol


@dataclass(frozen=True)
class SpacePlan:
    """One space of a study: its options (the default, CPU-sized space unless given), the
    trial budget of each search on it, and the controllers (labels) that also search under a
    hard constraint at the best classic point's FLOPs (the cap; label ``<label>-capped``)."""

    space: str
    trials: int
    options: dict = field(default_factory=dict)
    capped: tuple = ()
    supernet: "SupernetPlan | None" = None


@dataclass(frozen=True)
class SupernetPlan:
    """A weight-sharing search of a space under the cap (label ``supernet-<controller>``):
    the supernet trained for ``epochs`` (uniform single-path or ENAS, ``mode``), ``trials``
    children scored with inherited weights by the controller, the top ``retrain`` retrained
    stand-alone at the study's search budget on the search's split; the search's best is its
    best stand-alone child (what ``nas search --retrain K`` reports). ``options``: space
    options on top of the plan's (``concat=choice``: NASNet-A in the space)."""

    controller: str = "evolution"     # a label of Protocol.controllers
    mode: str = "uniform"
    trials: int = 300
    epochs: int = 300
    retrain: int = 5
    options: dict = field(default_factory=dict)
    evaluator_options: dict = field(default_factory=dict)
    cap_of: str | None = None         # the classic point whose FLOPs cap it (None: the best's)

    @property
    def label(self) -> str:
        return f"supernet-{self.controller}" + ("" if self.mode == "uniform" else f"-{self.mode}")

    def overrides(self, protocol: "Protocol", plan: SpacePlan) -> dict:
        """The search's config (flat names) on top of the protocol's."""
        return {"options": {**plan.options, **self.options}, "evaluator": "supernet",
                "evaluator_options": {"mode": self.mode, **self.evaluator_options},
                "epochs": self.epochs, "trials": self.trials, "retrain": self.retrain,
                "retrain_epochs": protocol.epochs, "executor": None}


#: controller label -> (controller, options) searched in a study
ENTRIES = {
    "random": ("random", {}),
    "reinforce": ("reinforce", {}),
    "optuna-tpe": ("optuna", {"sampler": "tpe"}),
    "evolution": ("evolution", {}),
}


@dataclass(frozen=True)
class Protocol:
    """Everything a study's numbers depend on (kept as ``protocol.json`` in the work dir)."""

    spaces: tuple = (SpacePlan("blocks", 40), SpacePlan("nasnet-cell", 24))
    controllers: dict = field(default_factory=lambda: dict(ENTRIES))
    seeds: tuple = (0, 1, 2)
    dataset: str = "digits"
    val_fraction: float = 0.5       # the search's train/val split of the training images
    batch_size: int = 32
    lr: float = 0.05
    epochs: int = 4                 # search budget per candidate
    retrain_epochs: int = 16        # the longer budget of the final retraining
    workers: int = 2
    executor: str = "ray"           # local: in-process, for the tiny pipeline (no Ray start-up)

    def config(self, **kw) -> SearchConfig:
        """The experiment config of a part of the study (keys by their flat names)."""
        return SearchConfig().replace(**{
            "dataset": self.dataset, "val_fraction": self.val_fraction,
            "batch_size": self.batch_size, "lr": self.lr, "epochs": self.epochs,
            "workers": self.workers, "cpus_per_trial": 1, "executor": self.executor, **kw})

    def budget(self) -> dict:
        """What every result of a work directory depends on (checked when continuing one)."""
        return {k: getattr(self, k) for k in ("dataset", "val_fraction", "batch_size", "lr",
                                              "epochs", "retrain_epochs")}

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["spaces"] = [dataclasses.asdict(s) for s in self.spaces]
        d["controllers"] = {k: [c, dict(o)] for k, (c, o) in self.controllers.items()}
        d["seeds"] = list(self.seeds)
        return d


# ============================================================================ running


def _nothing() -> None:
    """The default ``before_run``."""


def retrain_data(protocol: Protocol, seed: int):
    """The search's training split of ``seed`` against the held-out test split: the final
    retraining learns from exactly the images the search trained on and is scored on images
    no search (nor any choice of this study) ever saw."""
    from nas.experiment import load_data
    d = load_data(protocol.config(seed=seed), with_test=True)
    return dataclasses.replace(d, eval_x=d.test_x, eval_y=d.test_y, test_x=None, test_y=None,
                               split="train/test")


def run_one_search(protocol: Protocol, plan: SpacePlan, label: str, seed: int, root,
                   before_run=_nothing, constraints: dict | None = None,
                   overrides: dict | None = None) -> None:
    """One search (or the rest of it, if ``root`` holds an unfinished one) on Ray Tune, under
    hard ``constraints`` if given; ``overrides``: other settings (a supernet search's
    evaluator, budget, retraining); ``before_run()`` is called first if anything trains."""
    from pathlib import Path
    from nas.experiment import run_search
    controller, options = protocol.controllers[label]
    cfg = protocol.config(**{"space": plan.space, "options": dict(plan.options),
                             "controller": controller, "controller_options": dict(options),
                             "trials": plan.trials, "seed": seed,
                             "constraints": dict(constraints or {}), "out": str(root),
                             **(overrides or {})})
    if not (Path(root) / DB).is_file():
        before_run()
        run_search(cfg)
        return
    store = ExperimentStore.open(root)
    stored, done = store.config(), store.counts()["trained"]
    best = store.best()
    store.close()
    keys = ("space", "options", "controller", "controller_options", "seed", "dataset",
            "val_fraction", "epochs", "batch_size", "lr", "constraints", "evaluator",
            "evaluator_options", "retrain", "retrain_epochs")
    differ = [k for k in keys if _json(stored.get(k)) != _json(cfg.get(k))]
    if differ:
        raise NasError(f"{root} holds a search with other settings ({', '.join(differ)}); "
                       f"delete it, or give the controller another label")
    unretrained = bool(cfg.retrain) and (best is None or
                                         best.result.get("standalone_accuracy") is None)
    if done < cfg.trials or unretrained:    # interrupted, or a larger budget: continue it
        before_run()
        run_search(resume=root, overrides={"trials": cfg.trials})


def _json(x):
    import json
    return json.loads(json.dumps(x))


def read_search(root) -> dict:
    """What a study needs from a search directory: the trained trials in the order the
    controller asked for them (with parallel workers the order they finish in depends on
    timing; the n-th network proposed does not for random search), the best-so-far curve
    over them and the wall time (first ask to last result, over every run of it)."""
    store = ExperimentStore.open(root)
    try:
        every = store.rows()
        rows = [r for r in every if r.source == "trained" and r.done]
        curve, best = [], 0.0
        for r in rows:
            best = max(best, r.accuracy or 0.0)
            curve.append(best)
        finished = [r.finished_at for r in every if r.finished_at]
        retrain = Path(root) / RETRAIN
        if (retrain / DB).is_file():          # a search's stand-alone retraining is part of it
            sub = ExperimentStore.open(retrain)
            try:
                finished += [r.finished_at for r in sub.rows() if r.finished_at]
            finally:
                sub.close()
        wall = round(max(finished) - min(r.asked_at for r in every), 1) if finished else 0.0
        out = {"dir": str(root), "wall_seconds": wall,
               "counts": store.counts(), "curve": curve,
               "trials": [{"hash": r.hash, "accuracy": r.accuracy, "status": r.status,
                           "flops": r.result.get("flops"), "params": r.result.get("params"),
                           "genome": r.genome} for r in rows]}
        alone = [r for r in rows if r.result.get("standalone_accuracy") is not None]
        if alone:      # --retrain K: the retrained children compete, by stand-alone accuracy
            out["retrained"] = [{"hash": r.hash, "accuracy": r.result.get("standalone_accuracy"),
                                 "supernet_accuracy": r.accuracy, "status": r.status,
                                 "flops": r.result.get("flops"),
                                 "params": r.result.get("params"), "genome": r.genome}
                                for r in alone]
            out["supernet_epochs"] = max((r.result.get("supernet_epochs") or 0) for r in rows)
        return out
    finally:
        store.close()


# ============================================================================ analysis


def trials_to_reach(curve: list, target: float) -> int | None:
    """The first trial (1-based) whose best-so-far reaches ``target``; None if none does."""
    for i, v in enumerate(curve):
        if v >= target - 1e-12:
            return i + 1
    return None


def median_trials(ns: list) -> float | None:
    """The median of trials-to-reach values, a miss (None) counting as infinitely many;
    None when the median itself is a miss."""
    import math
    import statistics
    m = statistics.median(math.inf if n is None else n for n in ns) if ns else math.inf
    return None if math.isinf(m) else m


def fewer(a: float | None, b: float | None) -> bool:
    """``a < b`` for trials-to-reach values where None means never."""
    return a is not None and (b is None or a < b)


def mean_std(xs: list) -> tuple[float, float]:
    import statistics
    xs = [x for x in xs if x is not None]
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def best_trial(trials: list, max_flops: float | None = None) -> dict | None:
    """The trial of highest validation accuracy (fewer FLOPs on a tie), under a FLOPs cap."""
    ok = [t for t in trials if t["accuracy"] is not None and
          (max_flops is None or (t["flops"] or 0) <= max_flops)]
    return max(ok, key=lambda t: (t["accuracy"], -(t["flops"] or 0))) if ok else None


# ============================================================================ the study


#: the parts of a space's study :func:`run_space` can run alone (``only``), then merged into a
#: finished study by :func:`merge_space`
PARTS = ("capped", "supernet")


def merge_space(old: dict, new: dict) -> dict:
    """A finished study's space result ``old`` with the classic points and the parts of
    ``new`` (a :func:`run_space` with ``only``: its capped and/or weight-sharing searches
    replace the old ones of the same labels); the goals recomputed."""
    out = dict(old)
    labels = set(new.get("supernet_searches", {})) | set(new.get("capped_searches", {}))
    keys = ["classics", "best_classic", "flops_cap", "search_epochs"]
    if new.get("supernet_searches"):             # the weight-sharing part was run
        keys += ["supernet_plan", "supernet", "supernet_searches"]
    for k in keys:
        if k in new:
            out[k] = new[k]
    for k in ("capped_searches", "capped"):
        out[k] = {**old.get(k, {}), **new.get(k, {})}
    out["points"] = {**old["points"], **{k: v for k, v in new["points"].items() if k in labels}}
    def replaced(role: str) -> bool:
        return role.split(" ")[0] in labels
    mine = {x["hash"]: x for x in new["retrained"] if any(map(replaced, x["roles"]))}
    rows = []
    for x in old["retrained"]:         # the old rows, the roles of replaced searches renewed
        roles = [r for r in x["roles"] if not replaced(r)]
        if x["hash"] in mine:
            m = mine.pop(x["hash"])
            rows.append({**m, "roles": roles + [r for r in m["roles"] if replaced(r)]})
        elif roles:
            rows.append({**x, "roles": roles})
    out["retrained"] = rows + list(mine.values())
    out["goals"] = goals(out)
    return out


def run_study(protocol: Protocol, work, log=print, only: frozenset | None = None) -> dict:
    """Run every part of the study (continuing what ``work`` already holds) and return its
    numbers as JSON-ready data. One Ray session serves every search and evaluation."""
    import json
    import time
    from pathlib import Path
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "budget.json"
    if stamp.is_file() and json.loads(stamp.read_text()) != protocol.budget():
        raise NasError(f"{work} holds a study with another data protocol or budget "
                       f"({stamp.read_text().strip()}); give another work directory")
    stamp.write_text(json.dumps(protocol.budget()))
    t0 = time.time()
    started = []

    def ray_up() -> None:        # Ray only if something trains; then one session for all
        from evaluators import ray_tune
        if ray_tune.connect(None):
            started.append(True)
    try:
        spaces = {p.space: run_space(protocol, p, work / (p.space + _digest(p.options)), log,
                                     ray_up, only) for p in protocol.spaces}
    finally:
        if started:
            import ray
            ray.shutdown()
    return {"protocol": protocol.to_dict(), "seconds": round(time.time() - t0, 1),
            "spaces": spaces}


def _digest(x) -> str:
    """A short stable name for settings (``""`` for none)."""
    import hashlib
    import json
    if not x:
        return ""
    return "-" + hashlib.sha1(json.dumps(x, sort_keys=True).encode()).hexdigest()[:8]


def run_space(protocol: Protocol, plan: SpacePlan, work, log=print,
              before_run=_nothing, only: frozenset | None = None) -> dict:
    """One space's part of the study (``only``: the classic points and these of
    :data:`PARTS`, to be merged into a finished study by :func:`merge_space`)."""
    import time
    from nas.experiment import evaluate_genomes
    from search_spaces import get_space
    t0 = time.time()
    space = get_space(plan.space, plan.options)
    seeds = list(protocol.seeds)
    classics = classic_points(space)
    distinct = {c.name: c.genome for c in classics if c.genome is not None and not c.same_as}
    if not distinct:
        raise NasError(f"space {plan.space!r} has no classic points to compare the searches "
                       f"with")

    # 1. the classic points at the search's budget, on each seed's search split (the config's
    #    data set split by the seed, as the searches split it)
    val = {n: [] for n in distinct}
    for s in seeds:
        rows = evaluate_genomes(distinct, protocol.config(seed=s), work / f"classics-s{s}",
                                before_run=before_run)
        for n in distinct:
            val[n].append(rows[n].accuracy)
    log(f"{plan.space}: {len(distinct)} classic points evaluated ({time.time() - t0:.0f} s)")

    # the best classic point by validation (mean over seeds); its FLOPs are the cap
    best_classic = max(distinct, key=lambda n: (mean_std(val[n])[0], -_cost(distinct[n])[1]))
    cap = _cost(distinct[best_classic])[1]

    # 2. the searches: every controller × seed, the same trial budget; then the capped ones
    #    (candidates above the cap are rejected by the cost model before training and do not
    #    count against the budget)
    searches: dict[str, list] = {}
    capped: dict[str, list] = {}
    runs = ([] if only else [(label, searches, None) for label in protocol.controllers]) + \
        ([(label, capped, {"max_flops": cap}) for label in plan.capped]
         if not only or "capped" in only else [])
    for label, into, constraints in runs:
        name = label + ("-capped" if constraints else "")
        for s in seeds:
            t = time.time()
            run_one_search(protocol, plan, label, s, work / "search" / f"{name}-s{s}",
                           before_run, constraints)
            r = read_search(work / "search" / f"{name}-s{s}")
            into.setdefault(name, []).append({"seed": s, **r})
            log(f"{plan.space}: {name} seed {s}: {len(r['curve'])} trials, best "
                f"{r['curve'][-1] if r['curve'] else float('nan'):.4f} ({time.time() - t:.0f} s)")

    # 2b. the weight-sharing search under the cap (its trials: the retrained children, by
    #     their stand-alone validation accuracy at the search budget)
    supernet: dict[str, list] = {}
    sp = plan.supernet
    sp_cap = cap
    if sp is not None and sp.cap_of is not None:
        if sp.cap_of not in distinct:
            raise NasError(f"space {plan.space!r} has no classic point {sp.cap_of!r}")
        sp_cap = _cost(distinct[sp.cap_of])[1]
    for s in (seeds if sp is not None and (not only or "supernet" in only) else ()):
        t = time.time()
        root = work / "search" / f"{sp.label}-s{s}"
        run_one_search(protocol, plan, sp.controller, s, root, before_run,
                       {"max_flops": sp_cap}, sp.overrides(protocol, plan))
        r = read_search(root)
        supernet.setdefault(sp.label, []).append({"seed": s, **r})
        best = best_trial(r.get("retrained", []))
        log(f"{plan.space}: {sp.label} seed {s}: {len(r['curve'])} children, best retrained "
            f"{best['accuracy'] if best else float('nan'):.4f} ({time.time() - t:.0f} s)")

    # 3. choose by validation only what each controller found (its best; its best within the
    #    cap); retrain all of them and every classic point on the held-out test split
    found = found_architectures({**searches, **capped,
                                 **{k: [{**r, "trials": r.get("retrained", [])} for r in v]
                                    for k, v in supernet.items()}}, cap)
    jobs = {**{f"classic {n}": g for n, g in distinct.items()},
            **{k: Genome.from_dict(v["genome"]) for k, v in found.items()}}
    tested = retrain(protocol, jobs, work / "retrain", log, before_run)
    test = {n: tested[f"classic {n}"] for n in distinct}

    out = {"space": plan.space, "options": dict(plan.options), "trials": plan.trials,
           "search_epochs": protocol.epochs,
           "decisions": len(space.decisions),
           "classics": [_classic_row(c, distinct, val, test) for c in classics],
           "searches": {k: [{kk: vv for kk, vv in r.items() if kk != "trials"} for r in v]
                        for k, v in searches.items()},
           "capped_searches": {k: [{kk: vv for kk, vv in r.items() if kk != "trials"}
                                   for r in v] for k, v in capped.items()},
           "supernet_searches": {k: [{kk: vv for kk, vv in r.items() if kk != "trials"}
                                     for r in v] for k, v in supernet.items()},
           "points": {k: [[t["flops"], t["accuracy"]] for r in v
                          for t in r.get("retrained" if k in supernet else "trials", [])
                          if t["accuracy"] is not None]
                      for k, v in {**searches, **capped, **supernet}.items()},
           "best_classic": best_classic, "flops_cap": cap,
           "retrained": [_found_row(k, v, tested[k]) for k, v in found.items()]}
    out["controllers"] = controller_rows(searches, out["retrained"])
    out["capped"] = controller_rows(capped, out["retrained"])
    if supernet:
        out["supernet_plan"] = {**dataclasses.asdict(sp), "cap": sp_cap}
        out["supernet"] = supernet_rows(supernet, out["retrained"])
    out["goals"] = goals(out)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def retrain(protocol: Protocol, genomes: dict, root, log=print, before_run=_nothing) -> dict:
    """Test accuracy of each genome after the longer budget, one value per seed. A network
    (genome hash) already retrained on a seed in this work directory is not trained again."""
    import time
    from nas.experiment import evaluate_genomes
    t = time.time()
    acc = {n: [] for n in genomes}
    for s in protocol.seeds:
        prefix = f"{root.name}-s{s}"
        known = _tested(root.parent, prefix)
        todo = {n: g for n, g in genomes.items() if g.hash not in known}
        if todo:
            rows = evaluate_genomes(todo, protocol.config(seed=s,
                                                          epochs=protocol.retrain_epochs),
                                    root.parent / f"{prefix}{_digest(sorted(todo))}",
                                    data=retrain_data(protocol, s), before_run=before_run)
            known.update({g.hash: rows[n].accuracy for n, g in todo.items()})
        for n, g in genomes.items():
            acc[n].append(known[g.hash])
    log(f"{root.parent.name}: retrained {len(genomes)} networks × {len(protocol.seeds)} seeds "
        f"({time.time() - t:.0f} s)")
    return acc


def _tested(parent, prefix: str) -> dict:
    """genome hash -> accuracy of every finished evaluation in ``parent/prefix[-*]``."""
    out = {}
    for d in sorted(parent.glob(f"{prefix}*")):
        if d.name != prefix and not d.name.startswith(prefix + "-") or not (d / DB).is_file():
            continue
        store = ExperimentStore.open(d)
        try:
            for r in store.rows():
                if r.done and r.source == "cached":     # the result it was told
                    r = store.trained_result(r.hash, r.settings) or r
                if r.done:
                    out[r.hash] = r.accuracy
        finally:
            store.close()
    return out


def found_architectures(searches: dict, cap: float) -> dict:
    """What each controller found: its best network over all seeds, and its best within the
    FLOPs ``cap`` (chosen by validation accuracy only). Keyed by genome hash."""
    found: dict[str, dict] = {}
    for label, runs in searches.items():
        trials = [t for r in runs for t in r["trials"]]
        for role, t in (("best", best_trial(trials)), ("best ≤ cap", best_trial(trials, cap))):
            if t is None:
                continue
            e = found.setdefault(t["hash"], {**t, "roles": []})
            e["roles"].append(f"{label} {role}")
    return found


def _cost(genome: Genome) -> tuple[int, int]:
    from nas.cost import cost
    c = cost(genome)
    return c.params, c.flops


def _classic_row(c: Classic, distinct: dict, val: dict, test: dict) -> dict:
    name = c.same_as or c.name
    row = c.to_dict()
    if c.genome is not None:
        row["params"], row["flops"] = _cost(c.genome)
    if name in distinct:
        row["val"], row["test"] = val[name], test[name]
        row["val_mean"], row["val_std"] = mean_std(val[name])
        row["test_mean"], row["test_std"] = mean_std(test[name])
    return row


def _found_row(h: str, t: dict, test: list) -> dict:
    m, s = mean_std(test)
    return {"hash": h, "roles": t["roles"], "val": t["accuracy"], "flops": t["flops"],
            "params": t["params"], "test": test, "test_mean": m, "test_std": s,
            "genome": t["genome"]}


def mean_curve(curves: list) -> list:
    """The mean over seeds of best-so-far curves (a shorter curve keeps its last value)."""
    import statistics
    curves = [c for c in curves if c]
    n = max((len(c) for c in curves), default=0)
    return [statistics.fmean(c[min(i, len(c) - 1)] for c in curves) for i in range(n)]


def controller_rows(searches: dict, retrained: list) -> dict:
    """Per controller: final best (validation) over seeds; the mean best-so-far curve over
    seeds and the trial where it reaches random's final best (mean over seeds; random's own:
    where its mean curve gets there); trials to reach random's final best on the same seed
    (random's own: the trial its best came at); search wall time; the test accuracy of its
    best network."""
    rand = {r["seed"]: r["curve"][-1] for r in searches.get("random", []) if r["curve"]}
    rand_mean = mean_curve([r["curve"] for r in searches.get("random", [])])
    target = rand_mean[-1] if rand_mean else None
    out = {}
    for label, runs in searches.items():
        finals = [r["curve"][-1] if r["curve"] else None for r in runs]
        reach = [trials_to_reach(r["curve"], rand[r["seed"]]) if r["seed"] in rand else None
                 for r in runs]
        curve = mean_curve([r["curve"] for r in runs])
        best = next((x for x in retrained if f"{label} best" in x["roles"]), None)
        capped = next((x for x in retrained if f"{label} best ≤ cap" in x["roles"]), None)
        out[label] = {"final_best": finals, "final_best_mean": mean_std(finals)[0],
                      "final_best_std": mean_std(finals)[1], "reach": reach,
                      "reach_median": median_trials(reach), "mean_curve": curve,
                      "reach_mean": (None if target is None
                                     else trials_to_reach(curve, target)),
                      "wall_seconds": [r["wall_seconds"] for r in runs],
                      "wall_mean": mean_std([r["wall_seconds"] for r in runs])[0],
                      "wall_std": mean_std([r["wall_seconds"] for r in runs])[1],
                      "best": _brief(best), "best_capped": _brief(capped)}
    return out


def supernet_rows(searches: dict, retrained: list) -> dict:
    """Per weight-sharing search: per seed the children scored, the best child's supernet
    accuracy, the retrained children (supernet → stand-alone validation accuracy), the best
    stand-alone one, the wall time (search + retraining); the test accuracy of its best."""
    out = {}
    for label, runs in searches.items():
        finals = [max((t["accuracy"] for t in r.get("retrained", [])
                       if t["accuracy"] is not None), default=None) for r in runs]
        best = next((x for x in retrained if f"{label} best" in x["roles"]), None)
        out[label] = {
            "children": [len(r["curve"]) for r in runs],
            "supernet_epochs": [r.get("supernet_epochs") for r in runs],
            "best_supernet_accuracy": [r["curve"][-1] if r["curve"] else None for r in runs],
            "retrained": [[[t["supernet_accuracy"], t["accuracy"], t["flops"]]
                           for t in r.get("retrained", [])] for r in runs],
            "final_best": finals, "final_best_mean": mean_std(finals)[0],
            "final_best_std": mean_std(finals)[1],
            "wall_seconds": [r["wall_seconds"] for r in runs],
            "wall_mean": mean_std([r["wall_seconds"] for r in runs])[0],
            "wall_std": mean_std([r["wall_seconds"] for r in runs])[1],
            "best": _brief(best)}
    return out


def _brief(x: dict | None) -> dict | None:
    if x is None:
        return None
    return {k: x[k] for k in ("hash", "val", "flops", "params", "test_mean", "test_std")}


def goals(space_result: dict) -> dict:
    """The two goals, decided from the numbers (see the module docstring)."""
    classics = {c["name"]: c for c in space_result["classics"] if "test_mean" in c}
    best = classics[space_result["best_classic"]]
    capped = [x for x in space_result["retrained"] if (x["flops"] or 0) <= best["flops"]]
    champion = max(capped, key=lambda x: (x["val"], -x["flops"])) if capped else None
    a = {"best_classic": best["name"], "classic_test": [best["test_mean"], best["test_std"]],
         "classic_flops": best["flops"], "champion": _brief(champion),
         "champion_roles": champion["roles"] if champion else [],
         "met": bool(champion and champion["test_mean"] > best["test_mean"])}
    if champion:
        a["seed_wins"] = sum(x > y for x, y in zip(champion["test"], best["test"]))
        # stricter: every classic point with at least the champion's FLOPs, by test accuracy
        costlier = [c for c in classics.values() if c["flops"] >= champion["flops"]]
        a["costlier_beaten"] = sorted(c["name"] for c in costlier
                                      if champion["test_mean"] > c["test_mean"])
        a["costlier_not_beaten"] = sorted(c["name"] for c in costlier
                                          if champion["test_mean"] <= c["test_mean"])
    rows = space_result["controllers"]
    rnd = rows.get("random", {})
    b = {label: {"reach_mean": r["reach_mean"], "random_reach_mean": rnd["reach_mean"],
                 "met": fewer(r["reach_mean"], rnd["reach_mean"]),
                 "reach_median": r["reach_median"], "random_reach_median": rnd["reach_median"],
                 "paired_met": fewer(r["reach_median"], rnd["reach_median"])}
         for label, r in rows.items() if label != "random" and rnd}
    return {"beats_classic": a, "faster_than_random": b}
