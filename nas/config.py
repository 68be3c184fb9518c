"""The one experiment config: a small dataclass, loaded from YAML, overridden by CLI flags.

Every key a YAML file may hold is a field below (flat, grouped by comments); an unknown key or a
value of the wrong type raises :class:`~nas.errors.NasError` naming the file and the key::

    cfg = SearchConfig.load("configs/digits-quick.yaml").replace(trials=4, workers=2)
    cfg.budget(), cfg.recipe()     # what evaluate() takes
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nas.errors import NasError

DATASETS = ("digits", "cifar10", "cifar100", "mnist", "fashion-mnist", "svhn", "folder",
            "synthetic")


@dataclass(frozen=True)
class Budget:
    """How long one evaluation trains: whichever limit is reached first (None = no limit)."""

    epochs: int | None = 4
    steps: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Recipe:
    """How one evaluation trains (the same for every candidate of a search)."""

    optimizer: str = "sgd"          # sgd (momentum, nesterov) | adamw
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    batch_size: int = 64
    warmup_epochs: float = 0.0      # linear warm-up, then cosine decay to 0
    amp: bool = True                # mixed precision (CUDA only)
    channels_last: bool = True
    eval_batch_size: int = 1024


@dataclass(frozen=True)
class SearchConfig:
    # ---- what to search
    space: str = "nasnet-cell"
    options: dict = field(default_factory=dict)            # space options (--option k=v)
    controller: str = "random"
    controller_options: dict = field(default_factory=dict)
    reward: Any = "accuracy"                                # name or {name: mnas, target: ...}
    constraints: dict = field(default_factory=dict)         # max_params / max_flops / max_memory_kb
    init: list = field(default_factory=list)                # fixed points / nets asked first
    trials: int = 8
    seed: int = 0
    # ---- data
    dataset: str = "digits"
    data_dir: str | None = None
    input: str | None = None        # CxHxW: synthetic shape / image-folder resize
    samples: int = 2048             # synthetic data set size
    val_fraction: float = 0.2
    augment: bool | None = None     # None: the data set's standard augmentation
    # ---- budget and recipe (see Budget, Recipe)
    epochs: int | None = 4
    steps: int | None = None
    seconds: float | None = None
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    batch_size: int = 64
    warmup_epochs: float = 0.0
    amp: bool = True
    channels_last: bool = True
    # ---- execution
    workers: int | None = None      # trials at once; None: as many as the Ray cluster fits
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0
    scheduler: str = "fifo"         # fifo | asha
    grace_epochs: int = 1           # ASHA: epochs before a trial can be stopped
    max_failures: int = 1           # Tune retries of a crashed trial (worker died)
    address: str | None = None      # Ray cluster; None starts a local Ray
    device: str = "auto"            # auto | cpu | cuda
    # ---- sweep (nas sweep)
    nets: list = field(default_factory=list)
    n: int = 0                      # genomes sampled from `space` for a sweep
    grid: dict = field(default_factory=dict)   # setting -> list of values (genomes × settings)
    # ---- tabular benchmark (nas table build)
    seeds: list = field(default_factory=list)   # training seeds per network (first: all)
    seeds_sample: int | None = None  # networks trained with the further seeds (None: all)
    networks: int | None = None     # only the first N distinct networks (tests; None: all)
    # ---- output
    out: str | None = None
    top: int = 10

    def __post_init__(self):
        _check_types(self, "config")
        self.validate()

    # ------------------------------------------------------------------ derived
    def budget(self) -> Budget:
        return Budget(self.epochs, self.steps, self.seconds)

    def recipe(self) -> Recipe:
        return Recipe(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Recipe)
                         if hasattr(self, f.name)})

    def replace(self, **changes: Any) -> "SearchConfig":
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise NasError(f"unknown config key(s) {unknown}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config") -> "SearchConfig":
        if not isinstance(d, Mapping):
            raise NasError(f"{where}: expected a mapping of keys to values, got "
                           f"{type(d).__name__}")
        d = {str(k).replace("-", "_"): v for k, v in d.items()}
        for k in d:
            if k not in FIELDS:
                close = difflib.get_close_matches(k, list(FIELDS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise NasError(f"{where}: unknown key {k!r}{hint}")
        try:
            return cls(**d)
        except NasError as e:
            raise NasError(f"{where}: {e}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SearchConfig":
        import yaml
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise NasError(f"cannot read config {str(p)!r}: {e.strerror}") from None
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            raise NasError(f"{p}: bad YAML{at}: {getattr(e, 'problem', e)}") from None
        return cls.from_dict(d or {}, where=str(p))

    def save(self, path: str | os.PathLike) -> Path:
        import yaml
        p = Path(path)
        p.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return p

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        def need(ok: bool, key: str, what: str):
            if not ok:
                raise NasError(f"{key}: {what}, got {getattr(self, key)!r}")
        need(self.trials >= 1, "trials", "must be ≥ 1")
        need(self.dataset in DATASETS, "dataset", f"must be one of {', '.join(DATASETS)}")
        need(0 < self.val_fraction < 1, "val_fraction", "must be between 0 and 1")
        need(self.samples >= 10, "samples", "must be ≥ 10")
        for k in ("epochs", "steps"):
            need(getattr(self, k) is None or getattr(self, k) >= 1, k, "must be ≥ 1 (or null)")
        need(self.seconds is None or self.seconds > 0, "seconds", "must be > 0 (or null)")
        if self.epochs is None and self.steps is None and self.seconds is None:
            raise NasError("budget: set at least one of epochs, steps, seconds")
        need(self.optimizer in ("sgd", "adamw"), "optimizer", "must be sgd or adamw")
        need(self.lr > 0, "lr", "must be > 0")
        need(0 <= self.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
        need(self.weight_decay >= 0, "weight_decay", "must be ≥ 0")
        need(self.batch_size >= 1, "batch_size", "must be ≥ 1")
        need(self.workers is None or self.workers >= 1, "workers", "must be ≥ 1 (or null)")
        need(self.cpus_per_trial > 0, "cpus_per_trial", "must be > 0")
        need(self.gpus_per_trial >= 0, "gpus_per_trial", "must be ≥ 0")
        need(self.gpus_per_trial <= 1 or float(self.gpus_per_trial).is_integer(),
             "gpus_per_trial", "must be a fraction ≤ 1 or a whole number")
        need(self.scheduler in ("fifo", "asha"), "scheduler", "must be fifo or asha")
        need(self.grace_epochs >= 1, "grace_epochs", "must be ≥ 1")
        need(self.max_failures >= 0, "max_failures", "must be ≥ 0")
        need(self.device in ("auto", "cpu", "cuda"), "device", "must be auto, cpu or cuda")
        need(self.n >= 0, "n", "must be ≥ 0")
        need(self.top >= 1, "top", "must be ≥ 1")
        for v in self.seeds:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise NasError(f"seeds: expected non-negative integers, got {self.seeds!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise NasError(f"seeds: a seed is listed twice in {self.seeds!r}")
        need(self.networks is None or self.networks >= 1, "networks", "must be ≥ 1 (or null)")
        need(self.seeds_sample is None or self.seeds_sample >= 0, "seeds_sample",
             "must be ≥ 0 (or null: every network)")
        for k, v in self.grid.items():
            if k not in GRID_KEYS:
                raise NasError(f"grid: {k!r} cannot vary; settings that can: "
                               f"{', '.join(sorted(GRID_KEYS))}")
            if not isinstance(v, list) or not v:
                raise NasError(f"grid.{k}: expected a non-empty list of values, got {v!r}")
        if self.input is not None:
            from nas.commands._common import parse_input
            parse_input(self.input)
            if self.dataset not in ("synthetic", "folder"):
                raise NasError(f"input: sets the image size of the synthetic and folder data "
                               f"sets only; {self.dataset} images are "
                               f"{'1×8×8' if self.dataset == 'digits' else 'fixed'}")


FIELDS = {f.name: f for f in dataclasses.fields(SearchConfig)}
#: settings a sweep grid may vary per trial (budget and recipe)
GRID_KEYS = {f.name for f in dataclasses.fields(Budget)} | {
    f.name for f in dataclasses.fields(Recipe)}

_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,),
          "list": (list,), "Any": (object,)}


def _check_types(cfg: SearchConfig, where: str) -> None:
    """Check each value against its annotation (``int | None`` etc.); ints are accepted for
    floats; a comma string is accepted for a list (``init: resnet18,vgg11``)."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        kinds = [k.strip() for k in str(f.type).split("|")]
        if v is None and "None" in kinds:
            continue
        if "list" in kinds and isinstance(v, str):
            object.__setattr__(cfg, f.name, [s for s in v.split(",") if s])
            continue
        if "list" in kinds and isinstance(v, tuple):
            object.__setattr__(cfg, f.name, list(v))
            continue
        ok = any(isinstance(v, _TYPES[k]) and not (isinstance(v, bool) and k in ("int", "float"))
                 for k in kinds if k in _TYPES)
        if not ok:
            want = " or ".join("null" if k == "None" else k for k in kinds)
            raise NasError(f"{f.name}: expected {want}, got {v!r}")
