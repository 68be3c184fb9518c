"""Tabular benchmarks: every distinct network of a space trained once per seed, looked up.

A table is one gzip-compressed JSON-lines file, ``NAME.jsonl.gz`` (format ``nas-table/1``):

- line 1, the header: ``{"format", "name", "space", "space_options", "dataset", "input",
  "num_classes", "protocol" (data/budget/recipe of the build), "seeds", "epochs", "networks",
  "command", "versions", "wall_seconds", "trainings", "built"}``;
- then one line per distinct network: ``{"hash", "assignment", "params", "flops", "memory_kb",
  "runs": {SEED: {"val": [[accuracy, loss] per epoch], "test": [accuracy, loss], "latency_ms",
  "seconds": [cumulative training seconds per epoch]}}}`` — validation after every epoch (so
  multi-fidelity methods and ASHA replay exactly), test once at the end.

Shipped tables live in ``evaluators/tables/``; ``$NAS_TABLES`` (a ``:``-separated list of
directories) adds others; a path to a ``.jsonl.gz`` file works anywhere a name does.

``table`` evaluator (``--evaluator table[:NAME]``): looks the trial's genome hash up — no
training, microseconds — and returns the validation accuracy at the trial's epoch budget
(``--epochs 2`` → the epoch-2 accuracy), for one chosen seed or a seed drawn per lookup (as
NAS-Bench-201 does; reproducible: drawn from the trial's seed and number).
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import statistics
from pathlib import Path
from typing import Any, Iterable, Iterator

from evaluators.base import EVALUATORS, EvaluationContext, EpochCallback, Evaluator
from nas.errors import NasError
from nas.options import option
from nas.result import Result

FORMAT = "nas-table/1"
SHIPPED = Path(__file__).resolve().parent / "tables"
SUFFIX = ".jsonl.gz"


# ============================================================================ the table


@dataclasses.dataclass
class Table:
    """A loaded table: ``header`` and ``rows`` (hash -> row), with the statistics users ask."""

    header: dict
    rows: dict[str, dict]
    path: Path | None = None

    # ---------------------------------------------------------------- reading
    @classmethod
    def load(cls, path: str | os.PathLike) -> "Table":
        p = Path(path)
        try:
            with gzip.open(p, "rt", encoding="utf-8") as f:
                header = json.loads(f.readline())
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    raise NasError(f"{p}: not a {FORMAT} table (first line: "
                                   f"{str(header)[:60]})")
                rows = {}
                for k, line in enumerate(f, start=2):
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if not isinstance(row, dict) or "hash" not in row or "runs" not in row:
                        raise NasError(f"{p}: line {k} is not a network row")
                    rows[row["hash"]] = row
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise NasError(f"cannot read table {str(p)!r}: {e}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise NasError(f"{p}: not a JSON-lines table ({e})") from None
        return cls(header, rows, p)

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically (a temporary file renamed into place)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as f:
            f.write(json.dumps(self.header, separators=(",", ":")) + "\n")
            for h in sorted(self.rows):
                f.write(json.dumps(self.rows[h], separators=(",", ":")) + "\n")
        tmp.replace(p)
        return p

    # ---------------------------------------------------------------- lookups
    @property
    def name(self) -> str:
        return self.header["name"]

    @property
    def epochs(self) -> int:
        return int(self.header["epochs"])

    def row(self, h: str) -> dict:
        try:
            return self.rows[h]
        except KeyError:
            raise NasError(f"table {self.name!r} has no network with hash {h[:16]}…") from None

    def result(self, h: str, *, seed: int | None = None, epochs: int | None = None,
               rng: random.Random | None = None, callback: EpochCallback | None = None
               ) -> Result:
        """The recorded training of network ``h``: the validation metrics after ``epochs``
        (default all), with ``seed`` or, when None, a seed drawn from ``rng``."""
        row = self.row(h)
        seeds = sorted(row["runs"], key=int)
        if seed is None:
            s = seeds[(rng or random.Random(0)).randrange(len(seeds))]
        elif str(seed) in row["runs"]:
            s = str(seed)
        else:
            raise NasError(f"table {self.name!r}: network {h[:16]}… was trained with seeds "
                           f"{', '.join(seeds)}, not {seed}")
        run = row["runs"][s]
        e = self.epochs if epochs is None else int(epochs)
        if not 1 <= e <= len(run["val"]):
            raise NasError(f"table {self.name!r} records epochs 1..{len(run['val'])}; "
                           f"the budget asks for {e}")
        history = [{"epoch": k + 1, "accuracy": a, "loss": l, "seconds": t}
                   for k, ((a, l), t) in enumerate(zip(run["val"][:e], run["seconds"][:e]))]
        if callback is not None:
            for h_row in history:
                callback(dict(h_row))
        last = history[-1]
        metrics = {"accuracy": last["accuracy"], "loss": last["loss"],
                   "params": row["params"], "flops": row["flops"],
                   "memory_kb": row.get("memory_kb"), "latency_ms": run.get("latency_ms"),
                   "train_seconds": last["seconds"], "epochs": e, "history": history,
                   "table_seed": int(s), "table": self.name}
        if e == len(run["val"]) and run.get("test"):
            metrics["test_accuracy"], metrics["test_loss"] = run["test"]
        return Result("ok", metrics)

    # ---------------------------------------------------------------- statistics
    def final(self, h: str, key: str = "val") -> float:
        """Mean over seeds of the final validation (``"val"``) or test (``"test"``) accuracy."""
        runs = self.rows[h]["runs"].values()
        return statistics.fmean(r["val"][-1][0] if key == "val" else r["test"][0] for r in runs)

    def noise(self) -> dict:
        """Std of the final validation/test accuracy over repeated trainings (per network with
        ≥ 2 seeds, then averaged), in accuracy units."""
        out = {}
        for key in ("val", "test"):
            stds = [statistics.stdev(r["val"][-1][0] if key == "val" else r["test"][0]
                                     for r in row["runs"].values())
                    for row in self.rows.values() if len(row["runs"]) >= 2]
            out[key] = {"networks": len(stds),
                        "mean_std": statistics.fmean(stds) if stds else None,
                        "median_std": statistics.median(stds) if stds else None}
        return out

    def summary(self) -> dict:
        vals = sorted(self.final(h) for h in self.rows)
        best = max(self.rows, key=lambda h: (self.final(h), self.final(h, "test")))
        nseeds = [len(r["runs"]) for r in self.rows.values()]
        noise = self.noise()
        return {
            "name": self.name, "space": self.header["space"],
            "space_options": self.header.get("space_options", {}),
            "dataset": self.header["dataset"], "networks": len(self.rows),
            "seeds": self.header["seeds"],
            "trainings": sum(nseeds), "networks_with_repeats": sum(n >= 2 for n in nseeds),
            "epochs": self.epochs, "protocol": self.header["protocol"],
            "best": {"hash": best, "assignment": self.rows[best]["assignment"],
                     "accuracy": self.final(best), "test_accuracy": self.final(best, "test")},
            "mean_accuracy": statistics.fmean(vals), "median_accuracy": statistics.median(vals),
            "noise_std": noise["val"]["mean_std"], "noise": noise,
            "command": self.header.get("command"), "versions": self.header.get("versions"),
            "wall_seconds": self.header.get("wall_seconds"), "built": self.header.get("built")}

    def iter_rows(self) -> Iterator[dict]:
        """One plain object per network: hash, assignment, accuracy (final validation, mean over
        seeds), test_accuracy, params, flops, history (validation accuracy per epoch, mean)."""
        for h, row in self.rows.items():
            runs = list(row["runs"].values())
            hist = [statistics.fmean(r["val"][k][0] for r in runs)
                    for k in range(min(len(r["val"]) for r in runs))]
            yield {"hash": h, "assignment": row["assignment"], "accuracy": self.final(h),
                   "test_accuracy": self.final(h, "test"), "params": row["params"],
                   "flops": row["flops"], "seeds": sorted(int(s) for s in row["runs"]),
                   "history": hist}


# ============================================================================ finding tables


def table_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("NAS_TABLES", "").split(os.pathsep) if p]
    return extra + [SHIPPED]


def list_tables() -> list[str]:
    names = []
    for d in table_dirs():
        if d.is_dir():
            names += [p.name[: -len(SUFFIX)] for p in sorted(d.glob("*" + SUFFIX))]
    return sorted(set(names))


def find_table(ref: str) -> Path:
    """The file of a table NAME (shipped or in ``$NAS_TABLES``) or a path to one."""
    p = Path(ref)
    if p.suffix in (".gz", ".jsonl") or p.is_file():
        if not p.is_file():
            raise NasError(f"no table file {ref!r}")
        return p
    for d in table_dirs():
        f = d / (ref + SUFFIX)
        if f.is_file():
            return f
    known = list_tables()
    raise NasError(f"unknown table {ref!r}; known: {', '.join(known) or 'none'} (or give a "
                   f"path to a {SUFFIX} file; $NAS_TABLES adds directories)")


_LOADED: dict[Path, Table] = {}


def load_table(ref: str) -> Table:
    """A table by name or path, loaded once per process."""
    path = find_table(ref).resolve()
    t = _LOADED.get(path)
    if t is None:
        t = _LOADED[path] = Table.load(path)
    return t


# ============================================================================ building


def rows_from_trials(trials: Iterable[Any], epochs: int) -> dict[str, dict]:
    """Table rows from a build's stored trials (``TrialRow``s with ``settings.seed``): one row
    per network hash, one run per seed; failed or unfinished trainings are left out."""
    rows: dict[str, dict] = {}
    for t in trials:
        if t.source != "trained" or t.status != "ok":
            continue
        m = t.result.metrics
        hist = m.get("history") or []
        if len(hist) != epochs or "test_accuracy" not in m:
            continue
        a = {k: v for k, v in t.assignment.items() if k != "seed"}
        row = rows.setdefault(t.hash, {
            "hash": t.hash, "assignment": a, "params": m["params"], "flops": m["flops"],
            "memory_kb": m.get("memory_kb"), "runs": {}})
        row["runs"][str(t.settings.get("seed", 0))] = {
            "val": [[_r(e["accuracy"]), _r(e["loss"])] for e in hist],
            "test": [_r(m["test_accuracy"]), _r(m["test_loss"])],
            "latency_ms": _r(m.get("latency_ms", 0.0), 4),
            "seconds": [_r(e["seconds"], 3) for e in hist]}
    return rows


def _r(x: float, digits: int = 6) -> float:
    return round(float(x), digits)


# ============================================================================ the evaluator


@dataclasses.dataclass(frozen=True)
class TableOptions:
    name: str = option("", "the table (a name from `nas table list`, or a file); default: the "
                       "shipped table of the searched space and data set")
    seed: str = option("random", "the training seed to look up, or 'random': a seed drawn per "
                       "lookup among those the network was trained with (NAS-Bench-201's way)")


@EVALUATORS.register("table")
class TableEvaluator(Evaluator):
    """The cheapest rung: a lookup in a tabular benchmark the toolkit built."""

    name = "table"
    description = ("lookup in a tabular benchmark (every network of the space trained once per "
                   "seed): microseconds per candidate, epoch budget respected")
    Options = TableOptions
    default_executor = "local"
    argument = "name"           # --evaluator table:NAME

    def __init__(self, **options: Any):
        super().__init__(**options)
        s = self.options.seed
        if s != "random" and not str(s).isdigit():
            raise NasError(f"evaluator 'table' option 'seed': expected an integer or 'random', "
                           f"got {s!r}")
        self.table: Table | None = None

    def prepare(self, context: EvaluationContext) -> None:
        space = context.space
        name = self.options.name or f"{space.name}-{context.dataset}"
        t = load_table(name)
        h = t.header
        if h["space"] != space.name:
            raise NasError(f"table {t.name!r} is of space {h['space']!r}, the search's is "
                           f"{space.name!r}")
        if h["dataset"] != context.dataset:
            raise NasError(f"table {t.name!r} was built on {h['dataset']}, the search uses "
                           f"{context.dataset}")
        self.table = t

    def default_budget(self):
        from nas.config import Budget
        return Budget(epochs=self.table.epochs) if self.table is not None else None

    def evaluate(self, trial, data, *, device: str = "cpu", threads: int | None = None,
                 callback: EpochCallback | None = None) -> Result:
        if self.table is None:
            raise NasError("evaluator 'table': prepare() was not called")
        if trial.hash not in self.table.rows:
            raise NasError(f"table {self.table.name!r} has no entry for the assignment "
                           f"{json.dumps(_plain(trial.assignment), sort_keys=True)} (hash "
                           f"{trial.hash[:16]}…): was it built with other space options?")
        seed = None if self.options.seed == "random" else int(self.options.seed)
        rng = random.Random(f"{trial.seed}:{trial.number}")
        return self.table.result(trial.hash, seed=seed, epochs=trial.budget.epochs, rng=rng,
                                 callback=callback)


def _plain(a: dict) -> dict:
    return {k: v for k, v in a.items()}
