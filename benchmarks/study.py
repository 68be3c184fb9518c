"""Prove it: do searched networks beat the classic ones at no more FLOPs, and do the learning
controllers find random search's best in fewer trials? Measured on the embedded ``digits``.

    python benchmarks/study.py            # the full study (about an hour on 2 CPU cores)
    python benchmarks/study.py --tiny     # the pipeline at toy budgets on blocks (~1 minute)

For each space (``blocks``, ``nasnet-cell``, their CPU-sized default options):

1. the classic points of the space (:func:`study_protocol.classic_points`: the fixed
   points of the bigger presets in their small-input variants) are trained at the search's
   budget on each seed's split;
2. random, reinforce, optuna-tpe and evolution search with the same trial budget, one
   experiment directory per controller × seed, all on one Ray session;
3. every classic point, and what each controller found (its best network, and its best within
   the FLOPs of the best classic point — both chosen by validation accuracy), are retrained
   with the longer budget on each seed and scored on the held-out test split (the only place
   the test split is used);
4. the table, the plots and a markdown summary go to OUT (default
   ``benchmarks/results/study/``; ``--tiny``: ``runs/study-tiny/out``); the experiment
   directories to WORK (default ``runs/study``, not committed; a re-run continues it).

The protocol (why these numbers) is :data:`FULL`'s comment and the summary's first section.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from study_protocol import ENTRIES, Protocol, SpacePlan, SupernetPlan, run_study  # noqa: E402

#: The full study. A quarter of digits' 1 437 training images train (359), three quarters
#: validate (1 078: a 1-image step is 0.09%); batch 32, 8 epochs per candidate (the same ~96
#: SGD steps as 4 epochs on half). Measured side by side (2 seeds, 8 classic points and 7 found
#: networks of blocks) against half/half at 4 epochs + 16 to retrain: the classic points'
#: validation accuracies spread over 90.2–96.8% instead of 93.5–97.8%, their retrained test
#: accuracies over 94.6–98.3% instead of 97.5–99.3% (360 test images: one is 0.28%) — with
#: more training data the task saturates and the retrained networks differ by 1–3 images.
#: Retraining: 16 epochs on the same 359 images, scored on the 360 test images. Trials:
#: blocks candidates train in ~1 s, so 100 per search (at 40 the learning controllers spent
#: most of the budget warming up: TPE's 10 random start-up trials, evolution's population,
#: REINFORCE's first policy updates); nasnet-cell candidates cost ~10 s, 24 per search keeps the
#: study near an hour. On nasnet-cell only 5 of the 288 networks the accuracy-driven searches
#: trained had NASNet-A's FLOPs or fewer (median 2.0–2.4M vs 1.33M): the two best controllers
#: also search with the cap as a hard constraint (what a user wanting a network at that cost
#: runs). Evolution's population is scaled to small budgets (the default 30 would
#: spend most of a 24-trial budget on random initial networks).
FULL = Protocol(
    spaces=(SpacePlan("blocks", 100),
            SpacePlan("nasnet-cell", 24, capped=("optuna-tpe", "evolution"),
                      supernet=SupernetPlan("evolution", trials=200, epochs=100,
                                            options={"concat": "choice"}, cap_of="nasnet_a"))),
    controllers={**ENTRIES, "evolution": ("evolution", {"population": 10, "sample": 3})},
    seeds=(0, 1, 2), val_fraction=0.75, batch_size=32, epochs=8, retrain_epochs=16)

#: The same pipeline at toy budgets, for the test suite: one space, one seed, 3 trials, two
#: controllers, run in-process (each Ray Tune run costs seconds to start its workers; the Ray
#: path of the same loop is covered by the search tests).
TINY = Protocol(
    spaces=(SpacePlan("blocks", 3, capped=("random",)),),
    controllers={k: ENTRIES[k] for k in ("random", "optuna-tpe")},
    seeds=(0,), val_fraction=0.5, batch_size=64, epochs=1, retrain_epochs=1, executor="local")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="toy budgets: the pipeline in a minute")
    p.add_argument("--out", type=Path, help="where the table, plots and summary go")
    p.add_argument("--work", type=Path, help="where the experiment directories go")
    p.add_argument("--space", action="append", help="only this space (repeatable)")
    p.add_argument("--only", metavar="PARTS",
                   help="run only the classic points and these parts (comma-separated: capped, "
                        "supernet: the FLOPs-capped and the weight-sharing searches) and merge "
                        "them into OUT/study.json, a finished study")
    a = p.parse_args(argv)
    protocol = TINY if a.tiny else FULL
    if a.space:
        protocol = _only(protocol, a.space)
    work = a.work or ROOT / "runs" / ("study-tiny" if a.tiny else "study")
    out = a.out or (work / "out" if a.tiny else ROOT / "benchmarks" / "results" / "study")
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:6.0f} s] {msg}", flush=True)
    from nas.errors import NasError
    try:
        previous, only = None, None
        if a.only:
            from study_protocol import PARTS
            only = frozenset(x.strip() for x in a.only.split(",") if x.strip())
            if not only or not only <= set(PARTS):
                raise NasError(f"--only: expected some of {', '.join(PARTS)}, got {a.only!r}")
            if not (out / "study.json").is_file():
                raise NasError(f"--only merges into a finished study: no {out / 'study.json'}")
            previous = json.loads((out / "study.json").read_text())
        result = run_study(protocol, work, log, only=only)
    except NasError as e:            # a user mistake (work directory, settings): one line
        print(f"study: error: {e}", file=sys.stderr)
        return 2
    seconds = result["seconds"]
    if previous is not None:
        from study_protocol import merge_space
        result = {**previous, "spaces": {
            k: merge_space(v, result["spaces"][k]) if k in result["spaces"] else v
            for k, v in previous["spaces"].items()}}
        parts = result.setdefault("parts_seconds", {})   # the longest run of each (a
        key = ",".join(sorted(only))                        # continued one may train nothing)
        parts[key] = max(parts.get(key, 0), seconds)
    result["tiny"] = a.tiny
    files = write_results(result, out)
    took = seconds if previous is not None else result["seconds"]
    log(f"done in {took:.0f} s; wrote " + ", ".join(str(f) for f in files))
    for s in result["spaces"].values():
        print(verdict_lines(s))
    return 0


def _only(protocol: Protocol, names: list[str]) -> Protocol:
    import dataclasses
    known = [s.space for s in protocol.spaces]
    bad = [n for n in names if n not in known]
    if bad:
        raise SystemExit(f"study: unknown space(s) {bad}; the study has {known}")
    return dataclasses.replace(protocol, spaces=tuple(s for s in protocol.spaces
                                                      if s.space in names))


# ============================================================================ output


def write_results(result: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "study.json"]
    files[0].write_text(json.dumps(_finite(result), indent=1))
    for name, s in result["spaces"].items():
        files.append(plot_progress(s, out / f"progress-{name}.png"))
        files.append(plot_pareto(s, out / f"pareto-{name}.png"))
    files.append(out / "study.md")
    files[-1].write_text(markdown(result, out))
    return files


def _finite(x):
    """JSON without NaN/Infinity (None instead)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


COLORS = {"random": "tab:gray", "reinforce": "tab:red", "optuna-tpe": "tab:blue",
          "evolution": "tab:green"}


def _color(label: str):
    if label.startswith("supernet"):
        return "tab:purple"
    return COLORS.get(label.removesuffix("-capped"))


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_progress(s: dict, path: Path) -> Path:
    """Best-so-far validation accuracy vs trained trials: mean over seeds, min–max band."""
    import numpy as np
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, runs in s["searches"].items():
        curves = [r["curve"] for r in runs if r["curve"]]
        if not curves:
            continue
        n = max(len(c) for c in curves)
        m = np.array([c + [c[-1]] * (n - len(c)) for c in curves])
        x = np.arange(1, n + 1)
        color = COLORS.get(label)
        ax.plot(x, m.mean(0), color=color, label=f"{label} (mean of {len(curves)} seeds)")
        ax.fill_between(x, m.min(0), m.max(0), color=color, alpha=0.15)
    rnd = s["controllers"].get("random", {}).get("final_best_mean")
    if rnd is not None and math.isfinite(rnd):
        ax.axhline(rnd, color="tab:gray", ls="--", lw=1, label="random's final best (mean)")
    best = next(c for c in s["classics"] if c["name"] == s["best_classic"])
    ax.axhline(best["val_mean"], color="k", ls=":", lw=1,
               label=f"best classic {best['name']} (same budget)")
    ax.set_ylim(max(0.0, min(best["val_mean"], rnd or 1) - 0.08), None)
    _finish(fig, ax, path, f"{s['space']}: search progress ({s['trials']} trials per search)",
            "trained trials", "best validation accuracy so far")
    return path


def plot_pareto(s: dict, path: Path) -> Path:
    """Accuracy vs FLOPs: every searched network at the search budget (validation), and the
    retrained networks (test, mean ± std over seeds); classic points are stars."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    for label, pts in s["points"].items():
        ax1.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, alpha=0.35,
                    color=_color(label), label=label,
                    marker="x" if label.endswith("-capped") else "o")
    for c in s["classics"]:
        if "val_mean" not in c or c["same_as"]:
            continue
        name = " = ".join([c["name"]] + [d["name"] for d in s["classics"]
                                         if d["same_as"] == c["name"]])
        ax1.scatter([c["flops"]], [c["val_mean"]], marker="*", s=150, color="crimson", zorder=5)
        ax1.annotate(name, (c["flops"], c["val_mean"]), fontsize=7, xytext=(4, -9),
                     textcoords="offset points")
        ax2.errorbar([c["flops"]], [c["test_mean"]], yerr=[c["test_std"]], fmt="*", ms=12,
                     color="crimson", zorder=5)
        ax2.annotate(name, (c["flops"], c["test_mean"]), fontsize=7, xytext=(4, -9),
                     textcoords="offset points")
    for x in s["retrained"]:
        label = x["roles"][0].split(" ")[0]
        ax2.errorbar([x["flops"]], [x["test_mean"]], yerr=[x["test_std"]], fmt="o", ms=6,
                     color=_color(label), alpha=0.85)
        ax2.annotate(", ".join(x["roles"]), (x["flops"], x["test_mean"]), fontsize=6,
                     xytext=(4, 4), textcoords="offset points")
    for ax in (ax1, ax2):
        ax.axvline(s["flops_cap"], color="k", ls=":", lw=1)
        ax.set_xscale("log")
    lo = min([c["val_mean"] for c in s["classics"] if "val_mean" in c] or [0.5])
    ax1.set_ylim(max(0.0, lo - 0.1), 1.0)
    ax1.legend(fontsize=7, loc="lower right")
    ax1.set_title("search budget (★ classic points, dotted: best classic's FLOPs)", fontsize=9)
    ax2.set_title(f"retrained, held-out test (mean ± std over seeds)", fontsize=9)
    ax1.set_xlabel("FLOPs (multiply-adds)")
    ax2.set_xlabel("FLOPs (multiply-adds)")
    ax1.set_ylabel("validation accuracy")
    ax2.set_ylabel("test accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{s['space']}: accuracy vs FLOPs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _finish(fig, ax, path, title, xlabel, ylabel):
    plt = _plt()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------- markdown


def _pct(m, s=None) -> str:
    if m is None or (isinstance(m, float) and not math.isfinite(m)):
        return "–"
    return f"{100 * m:.2f}" + (f" ± {100 * s:.2f}" if s is not None else "")


def _h(n) -> str:
    if n is None:
        return "–"
    for div, suf in ((1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suf}"
    return str(n)


def _reach(ns) -> str:
    return ", ".join("–" if n is None else str(n) for n in ns)


def verdict_lines(s: dict) -> str:
    g = s["goals"]
    a = g["beats_classic"]
    ch = a["champion"]
    lines = [f"{s['space']}:"]
    if ch:
        lines.append(
            f"  goal 1 {'MET' if a['met'] else 'NOT MET'}: searched {_pct(ch['test_mean'])}% "
            f"test at {_h(ch['flops'])} FLOPs ({', '.join(a['champion_roles'])}) vs best classic "
            f"{a['best_classic']} {_pct(a['classic_test'][0])}% at {_h(a['classic_flops'])} "
            f"(better on {a.get('seed_wins', 0)} of {len(s['retrained'][0]['test'])} seeds)")
    else:
        lines.append(f"  goal 1 NOT MET: no searched network within {_h(a['classic_flops'])} "
                     "FLOPs")
    def n(x):
        return "never" if x is None else f"{x:g}"
    for label, b in g["faster_than_random"].items():
        lines.append(f"  goal 2 {label}: {'MET' if b['met'] else 'NOT MET'}: mean curve reaches "
                     f"random's final best at trial {n(b['reach_mean'])} (random: "
                     f"{n(b['random_reach_mean'])}); per seed, median {n(b['reach_median'])} "
                     f"(random: {n(b['random_reach_median'])}, "
                     f"{'met' if b['paired_met'] else 'not met'})")
    return "\n".join(lines)


def markdown(result: dict, out: Path) -> str:
    p = result["protocol"]
    seeds = ", ".join(map(str, p["seeds"]))
    lines = ["# Study: searched architectures vs classic fixed points, controllers vs random",
             "", f"Command: `python benchmarks/study.py{' --tiny' if result.get('tiny') else ''}`"
             f" — this run {result['seconds'] / 60:.1f} minutes on this machine (a run "
             f"continues its work directory and trains only what it does not hold yet; the "
             f"searches' own wall times below do not depend on that).", "",
             "## Protocol", "",
             f"- Data: `{p['dataset']}` (scikit-learn's 8×8 handwritten digits, 1×8×8, 10 "
             f"classes): 1 437 training images and a fixed held-out test split of 360. Each "
             f"seed splits the training images {1 - p['val_fraction']:g}/{p['val_fraction']:g} "
             f"into train/validation (few training images keep the task from saturating at "
             f"98%+ where architectures stop differing; see `FULL` in the command).",
             f"- Search budget per candidate: {p['epochs']} epochs, SGD (Nesterov) lr "
             f"{p['lr']} cosine, batch {p['batch_size']}, label smoothing 0.1, weight decay "
             f"5e-4 (the evaluator's recipe); reward = validation accuracy. "
             f"{p['workers']} trials at a time on Ray Tune, 1 CPU thread each.",
             f"- Every search: the space's default (CPU-sized) options, the same trial budget for "
             f"every controller, seeds {seeds} (the seed fixes the split, the initialisation "
             f"and the controller). Controllers: "
             + ", ".join(f"{k} (`{c}`{' ' + json.dumps(o) if o else ''})"
                         for k, (c, o) in p["controllers"].items()) + ".",
             f"- Retraining: {p['retrain_epochs']} epochs on the same training images, scored on "
             f"the test split (used nowhere else), seeds {seeds}; mean ± std over seeds. "
             f"Retrained: every classic point; per controller its best network and its best "
             f"network within the FLOPs of the best classic point (both chosen by validation "
             f"accuracy only).",
             "- Goal 1: the searched network with the best validation accuracy among those "
             "within the best classic point's FLOPs beats it on test accuracy. Goal 2: a "
             "learning controller's best-so-far validation curve, averaged over the seeds (the "
             "progress plot's line), reaches random search's final best (averaged over the "
             "seeds) in fewer trials than random's own averaged curve. Also shown, stricter "
             "and noisier: per seed, the trials to reach random's final best *on the same "
             "seed* (same split: every network has the same accuracy in every search of that "
             "seed), whose median must be below the trial random's best came at. Trials are "
             "the trained networks in the order the controller proposed them; '–' = not "
             "reached within the budget.",
             "- FLOPs-capped searches (where listed): the same controller, budget and seeds "
             "with the best classic point's FLOPs as a hard constraint (`max_flops`: a "
             "candidate above it is rejected by the cost model before training and does not "
             "count against the budget); their networks compete for goal 1, not for goal 2.",
             "- Seeds are fixed; with 2 parallel trials the order results arrive in depends on "
             "timing, so a re-run can differ slightly in which networks a controller asks.", ""]
    if result.get("parts_seconds"):
        lines[-1:-1] = [
            "- Parts re-run later (`--only`) and merged into this study, each with the classic "
            "points evaluated and retrained again (their numbers above are from the last of "
            "these runs; the searches not re-run were compared with the first run's): "
            + ", ".join(f"{k} ({v / 60:.0f} min)" for k, v in result["parts_seconds"].items())
            + "."]
    for name, s in result["spaces"].items():
        lines += space_markdown(s)
    return "\n".join(lines) + "\n"


def _search_minutes(s: dict) -> float:
    runs = [r for group in ("searches", "capped_searches", "supernet_searches")
            for v in s.get(group, {}).values()
            for r in v]
    return sum(r["wall_seconds"] for r in runs) / 60


def supernet_markdown(s: dict) -> list[str]:
    """The weight-sharing search under the cap, next to the stand-alone searches' wall times."""
    sp = s["supernet_plan"]
    walls = {k: r["wall_mean"] for group in ("controllers", "capped")
             for k, r in s.get(group, {}).items()}
    lines = ["", "### Weight-sharing search under the cap", "",
             f"`nas search --space {s['space']} --evaluator supernet --evaluator-option "
             f"mode={sp['mode']} --controller {sp['controller']} --trials {sp['trials']} "
             f"--epochs {sp['epochs']} --retrain {sp['retrain']} --retrain-epochs "
             f"{s.get('search_epochs', '')}` with space options {json.dumps(sp['options'])} "
             f"and `max_flops` = {_h(sp['cap'])} ({sp['cap_of'] or 'the best classic'}'s FLOPs), "
             f"on each seed's split: the "
             f"supernet trained for {sp['epochs']} epochs, {sp['trials']} children scored with "
             f"inherited weights, the top {sp['retrain']} by supernet accuracy retrained "
             f"stand-alone at the search budget; the search's best is its best stand-alone "
             f"child, retrained again with the longer budget and scored on the test split as "
             f"every other network here.", "",
             "| search | seed | children | best supernet acc % | retrained: supernet → "
             "stand-alone val % | best stand-alone val % | wall s (search + retraining) |",
             "|---|---|---|---|---|---|---|"]
    for label, r in s["supernet"].items():
        for i, run in enumerate(s["supernet_searches"][label]):
            pairs = ", ".join(f"{_pct(a)} → {_pct(b)}" for a, b, _ in r["retrained"][i])
            lines.append(f"| {label} | {run['seed']} | {r['children'][i]} | "
                         f"{_pct(r['best_supernet_accuracy'][i])} | {pairs} | "
                         f"{_pct(r['final_best'][i])} | {r['wall_seconds'][i]:.0f} |")
        b = r["best"] or {}
        val = _pct(r["final_best_mean"], r["final_best_std"])
        test = _pct(b.get("test_mean"), b.get("test_std"))
        others = ", ".join(f"{k} {v:.0f} s" for k, v in walls.items())
        lines += ["", f"{label}: best stand-alone val {val}%; its best network {test}% test at "
                  f"{_h(b.get('flops'))} FLOPs, {_h(b.get('params'))} params; wall "
                  f"{r['wall_mean']:.0f} ± {r['wall_std']:.0f} s per search vs the "
                  f"{s['trials']}-trial stand-alone searches' {others}."]
    return lines


def space_markdown(s: dict) -> list[str]:
    opts = f" (options {json.dumps(s['options'])})" if s["options"] else " (default options)"
    lines = [f"## `{s['space']}`{opts}", "",
             f"{s['decisions']} decisions; {s['trials']} trials per search; "
             f"searches {_search_minutes(s):.1f} minutes (sum of their wall times).", "",
             "```", verdict_lines(s), "```", "",
             "### Controllers", "",
             "| controller | final best val % (mean ± std) | mean curve reaches random's "
             "final best at trial | per seed: trials to random's final best | median | "
             "search wall s | its best: test % | FLOPs | params | best ≤ cap: test % | FLOPs |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in s["controllers"].items():
        b, c = r["best"] or {}, r["best_capped"] or {}
        med = r["reach_median"]
        lines.append(
            f"| {label} | {_pct(r['final_best_mean'], r['final_best_std'])} | "
            f"{_reach([r['reach_mean']])} | "
            f"{_reach(r['reach'])} | {'–' if med is None else f'{med:g}'} | "
            f"{r['wall_mean']:.0f} ± {r['wall_std']:.0f} | "
            f"{_pct(b.get('test_mean'), b.get('test_std'))} | {_h(b.get('flops'))} | "
            f"{_h(b.get('params'))} | {_pct(c.get('test_mean'), c.get('test_std'))} | "
            f"{_h(c.get('flops'))} |")
    lines += ["", f"Cap = FLOPs of the best classic point ({s['best_classic']}: "
              f"{_h(s['flops_cap'])})."]
    if s.get("capped"):
        lines += ["", "### FLOPs-capped searches", "",
                  "| search | final best val % (mean ± std) | search wall s | its best: test % "
                  "| FLOPs | params |", "|---|---|---|---|---|---|"]
        for label, r in s["capped"].items():
            b = r["best"] or {}
            lines.append(f"| {label} | {_pct(r['final_best_mean'], r['final_best_std'])} | "
                         f"{r['wall_mean']:.0f} ± {r['wall_std']:.0f} | "
                         f"{_pct(b.get('test_mean'), b.get('test_std'))} | "
                         f"{_h(b.get('flops'))} | {_h(b.get('params'))} |")
    if s.get("supernet"):
        lines += supernet_markdown(s)
    lines += ["", "### Classic points", "",
              "| classic (small variant) | fixed point of | original in the default space? | "
              "variant's changes | params | FLOPs | val % at search budget | test % retrained |",
              "|---|---|---|---|---|---|---|---|"]
    for c in s["classics"]:
        why = "yes" if c["reason"] is None else f"no: {c['reason']}"
        changes = "; ".join(c["changes"]) or "none"
        if c["same_as"]:
            changes += f" (= {c['same_as']})"
        lines.append(f"| {c['name']} | {c['source']} | {why} | {changes} | "
                     f"{_h(c.get('params'))} | {_h(c.get('flops'))} | "
                     f"{_pct(c.get('val_mean'), c.get('val_std'))} | "
                     f"{_pct(c.get('test_mean'), c.get('test_std'))} |")
    lines += ["", "### Retrained searched networks", "",
              "| found as | val % (search) | params | FLOPs | test % retrained | per seed | hash |",
              "|---|---|---|---|---|---|---|"]
    for x in sorted(s["retrained"], key=lambda x: -x["test_mean"]):
        per = ", ".join(_pct(t) for t in x["test"])
        lines.append(f"| {'; '.join(x['roles'])} | {_pct(x['val'])} | {_h(x['params'])} | "
                     f"{_h(x['flops'])} | {_pct(x['test_mean'], x['test_std'])} | {per} | "
                     f"`{x['hash'][:10]}` |")
    lines += ["", f"![progress](progress-{s['space']}.png)", "",
              f"![accuracy vs FLOPs](pareto-{s['space']}.png)", ""]
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
