"""What a search found: leaderboard, summary and plots of one or more experiment directories.

Everything is read from the experiment store (the source of truth); nothing is recomputed but
the per-genome memory (from the cost model). Plots are PNGs written into the experiment
directory (comparisons of several experiments into the first one, or ``out``):

``progress.png``  best-so-far validation accuracy vs trained trials, one line per experiment
``pareto.png``    accuracy vs FLOPs of every ok trial, the Pareto front, classic fixed points
``best.png``      the best genome's cells as the papers draw them (cell spaces), else (or with
                  ``detail``) the op graph of its distinct blocks (``best.dot`` with ``dot=True``)
``report.html``   the leaderboard, the summary and the plots on one self-contained page
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from nas.cost import cost
from nas.errors import NasError
from nas.genome import Genome
from nas.store import RETRAIN, ExperimentStore, TrialRow

FixedPoints = Callable[[ExperimentStore], dict]


def summarize(store: ExperimentStore, top: int = 10) -> dict:
    cfg = store.config()
    rows = store.rows()
    finished = [r.finished_at for r in rows if r.finished_at]
    asked = [r.asked_at for r in rows]
    board = []
    for rank, r in enumerate(store.leaderboard(top), 1):
        g = Genome.from_dict(r.genome)
        board.append({"rank": rank, "trial": r.number, "accuracy": r.accuracy,
                      "params": r.result.get("params"), "flops": r.result.get("flops"),
                      "memory_kb": round(cost(g).memory_kb, 1), "hash": r.hash,
                      "train_seconds": r.result.get("train_seconds"), "genome": g.name,
                      **({"standalone_accuracy": r.result.get("standalone_accuracy")}
                         if "standalone_accuracy" in r.result.metrics else {})})
    best = store.best()
    trained = _trained(store)
    retrained = [{"trial": r.number, "accuracy": r.accuracy,
                  "standalone_accuracy": r.result.get("standalone_accuracy")}
                 for r in trained if "standalone_accuracy" in r.result.metrics]
    retrained.sort(key=lambda d: -(d["accuracy"] or 0))
    return {"dir": str(store.root), "space": cfg.space, "controller": cfg.controller,
            "dataset": cfg.data.dataset, "trials_budget": cfg.trials, "counts": store.counts(),
            "runs": store.meta("runs", 1),
            "wall_seconds": round(max(finished) - min(asked), 1) if finished else 0.0,
            "best": None if best is None else {"trial": best.number, "hash": best.hash,
                                               "accuracy": best.accuracy},
            "leaderboard": board,
            **({"retrained": retrained} if retrained else {}),
            **({"learning_curve": learning_curve(trained)}
               if any("policy_entropy" in r.result.metrics for r in trained) else {})}


def learning_curve(trained: list[TrialRow], points: int = 10) -> list[dict]:
    """The controller's learning over the search, in ``points`` equal slices of the trained
    trials: mean reward (validation accuracy; 0 for a failure) and mean policy entropy."""
    n = len(trained)
    out = []
    for k in range(min(points, n)):
        part = trained[k * n // points:(k + 1) * n // points] if n >= points else [trained[k]]
        ent = [r.result.get("policy_entropy") for r in part
               if r.result.get("policy_entropy") is not None]
        out.append({"trials": f"{part[0].number}-{part[-1].number}",
                    "mean_reward": round(sum(r.accuracy or 0.0 for r in part) / len(part), 4),
                    "entropy": round(sum(ent) / len(ent), 3) if ent else None})
    return out


def plot_controller(store: ExperimentStore, path: Path, window: int = 20) -> Path | None:
    """Reward (moving average over ``window`` trials) and policy entropy per trial."""
    rows = [r for r in _trained(store) if r.result.get("policy_entropy") is not None]
    if not rows:
        return None
    import numpy as np
    fig, ax = _axes()
    acc = np.array([r.accuracy or 0.0 for r in rows])
    w = max(1, min(window, len(acc)))
    ma = np.convolve(acc, np.ones(w) / w, mode="valid")
    ax.plot(range(w, len(acc) + 1), ma, label=f"reward, mean of {w}", color="C0")
    ax.set_ylabel("reward (validation accuracy)")
    ax2 = ax.twinx()
    ax2.plot(range(1, len(rows) + 1), [r.result.get("policy_entropy") for r in rows],
             color="C3", label="policy entropy")
    ax2.set_ylabel("policy entropy (nats)")
    fig.legend(loc="lower center", ncol=2, fontsize=8)
    return _save(fig, ax, path, "controller learning curve", "trained trial", "reward")


def _trained(store: ExperimentStore) -> list[TrialRow]:
    rows = [r for r in store.rows() if r.source == "trained" and r.done]
    return sorted(rows, key=lambda r: (r.finished_at or 0, r.number))


def best_so_far(store: ExperimentStore) -> list[float]:
    out, best = [], 0.0
    for r in _trained(store):
        best = max(best, r.accuracy or 0.0)
        out.append(best)
    return out


def _pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated (fewer-or-equal FLOPs and higher-or-equal accuracy)."""
    front, best = [], -1.0
    for f, a in sorted(points, key=lambda p: (p[0], -p[1])):
        if a > best:
            front.append((f, a))
            best = a
    return front


def _axes(size=(6.4, 4.3)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=size)


def _save(fig, ax, path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    import matplotlib.pyplot as plt
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_progress(stores: list[ExperimentStore], path: Path) -> Path:
    fig, ax = _axes()
    for s in stores:
        curve = best_so_far(s)
        if curve:
            cfg = s.config()
            ax.plot(range(1, len(curve) + 1), curve, marker="o", ms=3,
                    label=f"{cfg.controller} ({s.root.name})")
    return _save(fig, ax, path, "search progress", "trained trials",
                 "best validation accuracy so far")


def plot_pareto(stores: list[ExperimentStore], path: Path,
                fixed_points: FixedPoints = lambda store: {}) -> Path:
    """Accuracy vs FLOPs with the Pareto front; ``fixed_points(store)`` (hash -> name) stars
    the space's classic fixed points (the wiring module knows the spaces)."""
    fig, ax = _axes()
    allpts = []
    for s in stores:
        fixed = fixed_points(s)
        pts = [(r.result.get("flops"), r.accuracy, r.hash) for r in _trained(s)
               if r.accuracy is not None and r.result.get("flops")]
        allpts += [(f, a) for f, a, _ in pts]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, alpha=0.7,
                   label=f"{s.config().controller} ({s.root.name})")
        for f, a, h in pts:
            if h in fixed:
                ax.scatter([f], [a], marker="*", s=160, c="crimson", zorder=5)
                ax.annotate(fixed[h], (f, a), fontsize=7, xytext=(4, 4), textcoords="offset points")
    front = _pareto(allpts)
    if front:
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", c="k", lw=1,
                label="Pareto front")
    from matplotlib.ticker import EngFormatter
    flops = [p[0] for p in allpts]
    if flops and max(flops) > 10 * min(flops):
        ax.set_xscale("log")  # spans a decade or more
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.xaxis.set_minor_formatter(EngFormatter() if ax.get_xscale() == "log" and flops and
                                 max(flops) < 100 * min(flops) else "")
    return _save(fig, ax, path, "accuracy vs cost (★ classic fixed points)",
                 "FLOPs (multiply-adds)", "validation accuracy")


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def write_html(summaries: list[dict], plots: list[Path], path: Path) -> Path:
    parts = ["<!doctype html><meta charset='utf-8'><title>nas report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}img{max-width:100%}</style>", "<h1>nas report</h1>"]
    for s in summaries:
        c = s["counts"]
        parts.append(f"<h2>{html.escape(s['dir'])}</h2><p>space <b>{s['space']}</b>, controller "
                     f"<b>{s['controller']}</b>, data set {s['dataset']}; trained {c['trained']} "
                     f"of {s['trials_budget']} (ok {c['ok']}, failed {c['failed']}, pruned "
                     f"{c['pruned']}), cached {c['cached']}, rejected {c['rejected']}; wall "
                     f"{s['wall_seconds']} s over {s['runs']} run(s).</p>")
        parts.append("<table><tr><th>rank</th><th>trial</th><th>accuracy</th><th>params</th>"
                     "<th>FLOPs</th><th>memory KB</th><th>train s</th><th>hash</th></tr>")
        for r in s["leaderboard"]:
            parts.append(f"<tr><td>{r['rank']}</td><td>{r['trial']}</td><td>{r['accuracy']:.4f}"
                         f"</td><td>{r['params']:,}</td><td>{r['flops']:,}</td><td>"
                         f"{r['memory_kb']:,}</td><td>{(r['train_seconds'] or 0):.1f}</td>"
                         f"<td><code>{r['hash'][:12]}</code></td></tr>")
        parts.append("</table>")
    for p in plots:
        parts.append(f"<h3>{p.name}</h3><img src='{_img(p)}'>")
    path.write_text("\n".join(parts))
    return path


def make_report(dirs: list[str | Path], top: int = 10, out: str | Path | None = None,
                dot: bool = False, fixed_points: FixedPoints = lambda store: {},
                cells: Callable = lambda store, genome: None, detail: bool = False) -> dict:
    """Summaries of every experiment and the plots; returns a JSON-ready dict. ``cells(store,
    genome)``: the genome's cell diagrams by the experiment's space (``best.png`` draws them;
    ``detail`` or None: the op graph)."""
    if not dirs:
        raise NasError("give at least one experiment directory")
    stores = [ExperimentStore.open(d) for d in dirs]
    try:
        target = Path(out) if out else stores[0].root
        if not target.is_dir():
            raise NasError(f"report output directory {str(target)!r} does not exist")
        summaries = [summarize(s, top) for s in stores]
        plots = [plot_progress(stores, target / "progress.png"),
                 plot_pareto(stores, target / "pareto.png", fixed_points)]
        for s in stores:
            if s.root == target:
                p = plot_controller(s, target / "controller.png")
                plots += [p] if p is not None else []
        for s in stores:
            best = s.best()
            if best is None:
                continue
            from nas.draw import draw, to_dot
            g = Genome.from_dict(best.genome)
            png = draw(g, s.root / "best.png", cells=None if detail else cells(s, g),
                       detail=detail)
            if s.root == target:
                plots.append(png)
            if dot:
                (s.root / "best.dot").write_text(to_dot(g))
        page = write_html(summaries, plots, target / "report.html")
        return {"experiments": summaries, "files": [str(p) for p in plots] + [str(page)]}
    finally:
        for s in stores:
            s.close()


@dataclass(frozen=True)
class TrainedWeights:
    """The kept trained weights of one trial of an experiment (a nas ``pt`` checkpoint)."""

    path: Path
    trial: int
    accuracy: float
    standalone: bool = False        # from the search's stand-alone retraining (DIR/retrain)

    def describe(self) -> str:
        where = f"stand-alone retraining {self.trial}" if self.standalone else \
            f"trial {self.trial}"
        return f"trained weights of {where}, val acc {self.accuracy:.4f}"


def best_genome_of(root: str | Path) -> tuple[Genome, TrainedWeights | None]:
    """The best genome of an experiment directory, and its trained weights when the search
    kept them (the store decides: a file without a finished ok row is not trusted)."""
    root = Path(root)
    p = root / "best.json"
    if not p.is_file():
        store = ExperimentStore.open(root)  # raises the clear "not an experiment" error
        store.close()
        raise NasError(f"{root} has no successful trial yet (no {p.name})")
    try:
        doc = json.loads(p.read_text())
        genome = Genome.from_dict(doc["genome"])
    except (ValueError, KeyError) as e:
        raise NasError(f"{p}: not a best-genome file ({e})") from None
    trained = trained_weights(root, doc.get("trial"))
    if trained is None and doc.get("metrics", {}).get("standalone_trial") is not None:
        # a searched child retrained stand-alone (--retrain K): its weights from DIR/retrain
        trained = trained_weights(root / RETRAIN, doc["metrics"]["standalone_trial"],
                                  standalone=True)
    return genome, trained


def trained_weights(root: str | Path, trial: int | None,
                    standalone: bool = False) -> TrainedWeights | None:
    """The kept weights of trial ``trial`` of the experiment in ``root`` (None: untrained);
    ``standalone``: ``root`` is a search's retraining experiment."""
    if trial is None or not (Path(root) / "trials.db").is_file():
        return None
    store = ExperimentStore.open(root)
    try:
        try:
            row = store.row(int(trial))
        except KeyError:
            return None
        path = store.weights_of(row)
        return None if path is None else TrainedWeights(path, row.number, row.accuracy,
                                                        standalone)
    finally:
        store.close()


def plot_table(table, out: Path) -> list[Path]:
    """A tabular benchmark's figures: the histogram of final validation accuracies, accuracy vs
    FLOPs, and how well each epoch's validation accuracy ranks the networks' final one."""
    from scipy.stats import kendalltau, spearmanr
    out = Path(out)
    if not out.is_dir():
        raise NasError(f"plot directory {str(out)!r} does not exist")
    rows = list(table.iter_rows())
    acc = [r["accuracy"] for r in rows]
    paths = []
    fig, ax = _axes()
    ax.hist(acc, bins=60, color="#4c72b0")
    ax.set_yscale("log")
    paths.append(_save(fig, ax, out / f"{table.name}-hist.png",
                       f"{table.name}: {len(rows)} networks", "final validation accuracy "
                       "(mean over seeds)", "networks"))
    fig, ax = _axes()
    ax.scatter([r["flops"] for r in rows], acc, s=4, alpha=0.4)
    ax.set_xscale("log")
    paths.append(_save(fig, ax, out / f"{table.name}-flops.png",
                       f"{table.name}: accuracy vs FLOPs", "FLOPs (multiply-adds)",
                       "final validation accuracy"))
    epochs = min(len(r["history"]) for r in rows)
    taus = [kendalltau([r["history"][e] for r in rows], acc)[0] for e in range(epochs)]
    rhos = [spearmanr([r["history"][e] for r in rows], acc)[0] for e in range(epochs)]
    fig, ax = _axes()
    ax.plot(range(1, epochs + 1), rhos, marker="o", label="Spearman ρ")
    ax.plot(range(1, epochs + 1), taus, marker="s", label="Kendall τ")
    paths.append(_save(fig, ax, out / f"{table.name}-early.png",
                       "ranking by the accuracy after epoch e vs the final one", "epoch e",
                       "rank correlation with final accuracy"))
    return paths
