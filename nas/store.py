"""The experiment store: one directory per search, the source of truth for resume.

``DIR/config.yaml``   the effective config (rewritten when a resume changes trials/workers)
``DIR/trials.db``     SQLite (WAL): every trial and the controller state
``DIR/best.json``     the best genome so far (rewritten atomically on each new best; after
                      ``--retrain K``, the best stand-alone child)
``DIR/optuna.db``     the Optuna study, when the controller is ``optuna``
``DIR/weights/``      ``trial-N.pt``: the trained weights of the best ``keep_weights`` trials
                      (a nas checkpoint: genome + state_dict; see :meth:`save_weights`)
``DIR/ray/``          Ray Tune's own per-run files (logs; not needed to resume)
``DIR/retrain/``      an experiment of its own: the stand-alone retraining of the top K
                      (``--retrain K``); after it, ``best.json`` is the best retrained child
``DIR/driver.lock``   held (``flock``) by the one live driver of the experiment

**One driver per experiment.** A driver (``create``, or ``open(driver=True)``) holds an OS
lock on ``driver.lock`` that dies with its process (a ``kill -9`` never leaves a stale lock); a
second driver is refused with the holder's PID. Readers (``nas report``) take no lock.

**The store is the experiment's identity.** It keeps a copy of the config's identity (every
key a resume may not change); a ``config.yaml`` edited to another space or budget, an empty or
foreign database, or a row that cannot be read is one clear error, never a silent restart.

A trial row is written when its assignment is asked (status ``running``) and completed once
with its result; each write is one transaction that also saves the controller state, so the
stored state always matches the rows: after a crash the ``running`` rows are exactly the asks
the controller is still waiting for. WAL with ``synchronous=NORMAL``: a committed result
survives the driver being killed (even ``kill -9``); only a power loss or OS crash can drop the
last few commits (never corrupt the file), which a resume then simply re-runs.
``source`` says how a row got its result: ``trained``
(evaluated), ``cached`` (same genome hash as a trained row: never trained twice) or
``rejected`` (broke a hard constraint before training).

**Weights follow the rows.** A trial's weights file is written (temp file + rename) *before*
its row is completed, then files that fell out of the top K are deleted; a file is trusted only
when its row says ok and ranks in the top K (:meth:`weights_of`). A kill between the two
writes leaves a file without a finished row: :meth:`prune_weights` (run whenever a driver
opens the store) deletes it, and a trial without its file is simply "untrained".
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from nas.config import SearchConfig, identity
from nas.errors import NasError
from nas.result import STATUSES, Result

DB = "trials.db"
CONFIG = "config.yaml"
BEST = "best.json"
RETRAIN = "retrain"          # DIR/retrain: the stand-alone retraining of the top K
LOCK = "driver.lock"
WEIGHTS = "weights"
FINAL = ("ok", "failed", "pruned")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    number      INTEGER PRIMARY KEY,
    run         INTEGER NOT NULL,
    assignment  TEXT NOT NULL,
    hash        TEXT NOT NULL,
    genome      TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    source      TEXT NOT NULL DEFAULT 'trained',
    status      TEXT NOT NULL DEFAULT 'running',
    accuracy    REAL,
    params      INTEGER,
    flops       INTEGER,
    latency_ms  REAL,
    train_seconds REAL,
    metrics     TEXT,
    error       TEXT,
    trial_id    TEXT,
    asked_at    REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS trials_hash ON trials(hash);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class TrialRow:
    number: int
    run: int
    assignment: dict
    hash: str
    genome: dict
    settings: dict
    source: str
    status: str
    result: Result | None
    trial_id: str | None
    asked_at: float
    finished_at: float | None

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def accuracy(self) -> float | None:
        return self.result.get("accuracy") if self.result and self.result.ok else None

    def summary(self) -> dict:
        r = self.result
        return {"number": self.number, "hash": self.hash, "source": self.source,
                "status": self.status, "accuracy": self.accuracy,
                "params": r.get("params") if r else None, "flops": r.get("flops") if r else None,
                "latency_ms": r.get("latency_ms") if r else None,
                "train_seconds": r.get("train_seconds") if r else None,
                "error": r.error if r else None, "assignment": self.assignment,
                **({"settings": self.settings} if self.settings else {})}



def write_atomic(path: str | os.PathLike, blob: bytes) -> Path:
    """Write ``blob`` to ``path`` so that a reader (or a resume after kill -9) sees the old
    file or the new one, never half of one: a synced temp file, then a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


class ExperimentStore:
    """An experiment directory. ``create`` a new one or ``open`` an existing one."""

    def __init__(self, root: Path, conn: sqlite3.Connection, lock=None):
        self.root = root
        self.conn = conn
        self._lock = lock

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, root: str | os.PathLike, config: SearchConfig) -> "ExperimentStore":
        root = Path(root)
        if (root / DB).exists():
            raise NasError(f"{root} already holds an experiment; continue it with "
                           f"--resume {root}, or choose another --out")
        if root.exists() and not root.is_dir():
            raise NasError(f"--out {str(root)!r} is a file, not a directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NasError(f"cannot create experiment directory {str(root)!r}: "
                           f"{e.strerror}") from None
        lock = _take_lock(root)
        store = cls(root, _connect(root / DB, create=True), lock)
        config.save(root / CONFIG)
        store._set_meta({"created": time.time(), "runs": 0, "identity": identity(config)})
        return store

    @classmethod
    def open(cls, root: str | os.PathLike, *, driver: bool = False) -> "ExperimentStore":
        """Open an existing experiment; ``driver=True`` (a search continuing it) takes the
        directory's lock, readers do not."""
        root = Path(root)
        if not (root / DB).is_file():
            raise NasError(f"{root} is not an experiment directory (expected {root / DB})")
        if (root / DB).stat().st_size == 0:
            raise NasError(f"{root / DB} is empty: not an experiment database (nothing to "
                           f"resume; start a new experiment with another --out)")
        lock = _take_lock(root) if driver else None
        try:
            store = cls(root, _connect(root / DB, create=False), lock)
        except BaseException:
            _release(lock)
            raise
        return store

    def close(self) -> None:
        self.conn.close()     # idempotent
        _release(self._lock)
        self._lock = None

    def discard(self) -> None:
        """Remove a just-created experiment that could not start (bad controller options)."""
        self.close()
        for name in (DB, DB + "-wal", DB + "-shm", CONFIG, "optuna.db", LOCK):
            (self.root / name).unlink(missing_ok=True)
        if (self.root / WEIGHTS).is_dir():
            import shutil
            shutil.rmtree(self.root / WEIGHTS, ignore_errors=True)
        try:
            self.root.rmdir()
        except OSError:
            pass

    def config(self) -> SearchConfig:
        """The experiment's config (``config.yaml``), checked against the identity the store
        recorded when it was created: a file edited to describe another experiment is refused."""
        cfg = SearchConfig.load(self.root / CONFIG)
        want = self.meta("identity")
        if want is not None:
            got = identity(cfg)
            diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            if diff:
                k = diff[0]
                raise NasError(f"{self.root / CONFIG} was edited: {k} is {got.get(k)!r} but "
                               f"this experiment's store holds {k}={want.get(k)!r}"
                               f"{f' (and {len(diff) - 1} more)' if len(diff) > 1 else ''}; "
                               f"a resume may change only trials, workers and other execution "
                               f"settings — start a new experiment with another --out")
        return cfg

    def save_config(self, config: SearchConfig) -> None:
        tmp = self.root / (CONFIG + ".tmp")
        config.save(tmp)
        os.replace(tmp, self.root / CONFIG)

    def new_run(self) -> int:
        """Count a (re)start of the search; returns its number (1, 2, ...)."""
        run = int(self.meta("runs", 0)) + 1
        self._set_meta({"runs": run})
        return run

    # ------------------------------------------------------------------ writes
    def add_trial(self, run: int, assignment: dict, hash: str, genome_json: str,
                  controller_state: dict | None, source: str = "trained",
                  settings: dict | None = None) -> int:
        """Record an asked assignment (status running); returns its trial number.
        ``settings``: per-trial budget/recipe overrides (a sweep), part of the cache key."""
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO trials (run, assignment, hash, genome, settings, source, asked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run, _dumps(assignment), hash, genome_json, _settings(settings), source,
                 time.time()))
            self._put_state(controller_state)
        return int(cur.lastrowid)

    def finish_trial(self, number: int, result: Result, controller_state: dict | None,
                     source: str | None = None, trial_id: str | None = None) -> None:
        """Record the result of trial ``number`` (and the controller state after its tell)."""
        m = result.metrics
        with self.conn:
            cur = self.conn.execute(
                "UPDATE trials SET status=?, accuracy=?, params=?, flops=?, latency_ms=?, "
                "train_seconds=?, metrics=?, error=?, finished_at=?, "
                "source=COALESCE(?, source), trial_id=COALESCE(?, trial_id) WHERE number=?",
                (result.status, m.get("accuracy") if result.ok else None, m.get("params"),
                 m.get("flops"), m.get("latency_ms"), m.get("train_seconds"), _dumps(m),
                 result.error, time.time(), source, trial_id, number))
            if cur.rowcount != 1:
                raise KeyError(f"no trial {number} in {self.root / DB}")
            self._put_state(controller_state)

    def set_source(self, number: int, source: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE trials SET source=? WHERE number=?", (source, number))

    def add_metrics(self, number: int, **metrics: Any) -> None:
        """Merge ``metrics`` into a finished trial's metrics (e.g. the stand-alone accuracy of
        a candidate a supernet scored)."""
        self._merge(number, metrics)

    def rescore(self, number: int, accuracy: float, **metrics: Any) -> None:
        """Replace a finished trial's accuracy by a better estimate (the leaderboard, best and
        export follow it), merging ``metrics`` (e.g. the estimate it replaces)."""
        self._merge(number, {**metrics, "accuracy": accuracy}, accuracy=accuracy)

    def _merge(self, number: int, metrics: dict, accuracy: float | None = None) -> None:
        row = self.row(number)
        merged = _dumps({**(row.result.metrics if row.result else {}), **metrics})
        with self.conn:
            self.conn.execute("UPDATE trials SET accuracy=COALESCE(?, accuracy), metrics=? "
                              "WHERE number=?", (accuracy, merged, number))

    def set_error(self, number: int, error: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE trials SET error=? WHERE number=?", (error, number))

    def save_controller_state(self, state: dict | None) -> None:
        with self.conn:
            self._put_state(state)

    def write_best(self, row: TrialRow) -> Path:
        """``best.json``: the genome of the best trial, with its number, hash and metrics."""
        p = self.root / BEST
        tmp = self.root / (BEST + ".tmp")
        r = row.result
        metrics = {k: v for k, v in (r.metrics if r else {}).items() if k != "history"}
        tmp.write_text(json.dumps({"trial": row.number, "hash": row.hash, "metrics": metrics,
                                   "assignment": row.assignment, "genome": row.genome},
                                  indent=1))
        os.replace(tmp, p)
        return p

    # ------------------------------------------------------------------ weights
    def weights_path(self, number: int) -> Path:
        return self.root / WEIGHTS / f"trial-{number}.pt"

    def wants_weights(self, accuracy: float | None, keep: int) -> bool:
        """Whether a trial finishing with ``accuracy`` would enter the top ``keep`` (so its
        weights are worth writing); ties count as entering."""
        if keep <= 0 or accuracy is None:
            return False
        top = self.leaderboard(keep)
        return len(top) < keep or accuracy >= (top[-1].accuracy or 0.0)

    def save_weights(self, number: int, data: bytes) -> Path:
        """Write trial ``number``'s weights atomically (temp file + rename); call it before the
        trial's row is completed, then :meth:`prune_weights`."""
        p = self.weights_path(number)
        p.parent.mkdir(exist_ok=True)
        write_atomic(p, data)
        return p

    def prune_weights(self, keep: int) -> None:
        """Delete every weights file but those of the top ``keep`` trials (by the store): files
        that fell out of the top K, orphans of a kill before the row, temp files."""
        d = self.root / WEIGHTS
        if not d.is_dir():
            return
        wanted = {self.weights_path(r.number).name for r in self.leaderboard(keep)} \
            if keep > 0 else set()
        for f in d.iterdir():
            if f.name not in wanted:
                f.unlink(missing_ok=True)

    def weights_of(self, row: "TrialRow", keep: int | None = None) -> Path | None:
        """The weights file of a finished ok trial, or None ("untrained": never kept, pruned,
        or lost). ``keep``: also require the row to rank in the top ``keep``."""
        if row.accuracy is None or row.source != "trained":
            return None
        if keep is not None and row.number not in {r.number for r in self.leaderboard(keep)}:
            return None
        p = self.weights_path(row.number)
        return p if p.is_file() else None

    # ------------------------------------------------------------------ reads
    def rows(self, where: str = "", args: Iterable[Any] = (), order: str = "number",
             limit: int | None = None) -> list[TrialRow]:
        q = "SELECT number, run, assignment, hash, genome, settings, source, status, metrics, " \
            "error, trial_id, asked_at, finished_at FROM trials"
        if where:
            q += f" WHERE {where}"
        q += f" ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return [_row(*r) for r in self.conn.execute(q, tuple(args)).fetchall()]

    def row(self, number: int) -> TrialRow:
        rows = self.rows("number=?", (number,))
        if not rows:
            raise KeyError(f"no trial {number}")
        return rows[0]

    def running(self) -> list[TrialRow]:
        return self.rows("status='running'")

    def trained_result(self, hash: str, settings: dict | None = None) -> TrialRow | None:
        """The completed trained row of a genome hash (and settings): the cache."""
        rows = self.rows("hash=? AND settings=? AND source='trained' AND status!='running'",
                         (hash, _settings(settings)), limit=1)
        return rows[0] if rows else None

    def counts(self) -> dict:
        """``trained`` (completed evaluations: the budget), ``ok``, ``failed``, ``pruned``,
        ``cached``, ``rejected``, ``running``."""
        c = dict.fromkeys(("trained", "ok", "failed", "pruned", "cached", "rejected",
                           "running"), 0)
        for source, status, n in self.conn.execute(
                "SELECT source, status, COUNT(*) FROM trials GROUP BY source, status"):
            if status == "running":
                c["running"] += n
            elif source == "trained":
                c["trained"] += n
                c[status] += n
            else:
                c[source] += n
        return c

    def leaderboard(self, k: int = 10) -> list[TrialRow]:
        """The ``k`` best trained ok trials by validation accuracy (fewer params first on ties)."""
        return self.rows("source='trained' AND status='ok'",
                         order="accuracy DESC, params ASC, number ASC", limit=k)

    def best(self) -> TrialRow | None:
        """The best trial: the leaderboard's first — or, once the search's top K were retrained
        stand-alone (``--retrain K``), the one with the best stand-alone accuracy (ties broken
        as the leaderboard breaks them)."""
        top = self.rows("source='trained' AND status='ok' AND "
                        "json_extract(metrics, '$.standalone_accuracy') IS NOT NULL",
                        order="json_extract(metrics, '$.standalone_accuracy') DESC, "
                              "accuracy DESC, params ASC, number ASC", limit=1) \
            or self.leaderboard(1)
        return top[0] if top else None

    def controller_state(self) -> dict | None:
        return self.meta("controller_state")

    def meta(self, key: str, default: Any = None) -> Any:
        r = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(r[0]) if r else default

    # ------------------------------------------------------------------ internals
    def _put_state(self, state: dict | None) -> None:
        if state is not None:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('controller_state', ?)",
                              (_dumps(state),))

    def set_meta(self, **values: Any) -> None:
        self._set_meta(values)

    def _set_meta(self, values: dict) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                  [(k, _dumps(v)) for k, v in values.items()])


def _connect(path: Path, create: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), timeout=30, isolation_level="DEFERRED")
        if not create:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"trials", "meta"} <= tables or conn.execute(
                    "SELECT 1 FROM meta WHERE key='created'").fetchone() is None:
                conn.close()
                raise NasError(f"{path}: not an experiment database (no trials/meta tables "
                               f"of nas); nothing to resume")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
    except sqlite3.DatabaseError as e:
        raise NasError(f"{path}: not a readable experiment database ({e})") from None
    return conn


def _take_lock(root: Path):
    """Hold ``root/driver.lock`` (``flock``, released by the OS when the process dies)."""
    try:
        import fcntl
    except ImportError:           # not POSIX: no lock
        return None
    f = open(root / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        pid = f.read().strip() or "?"
        f.close()
        raise NasError(f"{root} is in use by another nas process (pid {pid}): an experiment "
                       f"has one live driver; wait for it or stop it (`nas report {root}` "
                       f"works meanwhile)") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def _release(lock) -> None:
    if lock is not None and not lock.closed:
        lock.close()              # closing the descriptor releases the flock


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), default=_default)


def _default(o: Any):
    if hasattr(o, "item"):          # numpy / torch scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _settings(settings: dict | None) -> str:
    return json.dumps(settings or {}, sort_keys=True, separators=(",", ":"))


def _row(number, run, assignment, hash, genome, settings, source, status, metrics, error,
         trial_id, asked_at, finished_at) -> TrialRow:
    what = "status"
    try:
        if status != "running" and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        what = "metrics"
        result = Result(status, json.loads(metrics or "{}"), error) \
            if status != "running" else None
        what = "assignment"
        a = json.loads(assignment)
        what = "genome"
        g = json.loads(genome)
        what = "settings"
        st = json.loads(settings)
        if not isinstance(a, dict) or not isinstance(st, dict) or (
                result is not None and not isinstance(result.metrics, dict)):
            raise ValueError("not a JSON object")
    except (ValueError, TypeError) as e:
        raise NasError(f"{DB}: trial {number} has an unreadable {what} ({e}); the store was "
                       f"edited or damaged — fix or delete that row") from None
    return TrialRow(number, run, a, hash, g, st, source, status, result, trial_id, asked_at,
                    finished_at)
