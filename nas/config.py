"""The one experiment config: nested dataclasses, loaded from YAML, overridden by CLI flags.

An experiment is *what* to search (space, controller, evaluator, reward, trials, seed) and four
sections: ``data`` (which data set, how it is split), ``budget`` (how long one evaluation
trains), ``recipe`` (how it trains) and ``execution`` (where and how many at once)::

    cfg = SearchConfig.load("configs/digits-quick.yaml").replace(trials=4, workers=2)
    cfg.budget, cfg.recipe            # what an evaluator takes
    cfg.get("epochs")                 # a key by its flat name

YAML may nest the sections (``budget: {epochs: 8}``) or give their keys flat (``epochs: 8``, as
the flags do): every key has one flat name, so ``replace(epochs=8)`` and ``--epochs 8`` mean
the same. An unknown key or a value of the wrong type raises :class:`~nas.errors.NasError`
naming the file and the key.
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
class DataConfig:
    """Which data set, and how its training split is split into train / validation."""

    dataset: str = "digits"
    data_dir: str | None = None
    input: str | None = None        # CxHxW: synthetic shape / image-folder resize
    samples: int = 2048             # synthetic data set size
    val_fraction: float = 0.2
    augment: bool | None = None     # None: the data set's standard augmentation


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
class Execution:
    """Where evaluations run and how many at once."""

    executor: str | None = None     # ray | local; None: the evaluator's default
    workers: int | None = None      # trials at once; None: as many as the Ray cluster fits
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0
    scheduler: str = "fifo"         # fifo | asha
    grace_epochs: int = 1           # ASHA: epochs before a trial can be stopped
    max_failures: int = 1           # Tune retries of a crashed trial (worker died)
    address: str | None = None      # Ray cluster; None starts a local Ray
    device: str = "auto"            # auto | cpu | cuda
    tensorboard: bool = True        # ray: per-epoch TensorBoard files of every trial


#: the keys a resume may change; every other key is the experiment's identity
RESUMABLE = ("trials", "workers", "cpus_per_trial", "gpus_per_trial", "address",
             "max_failures", "device", "top", "executor", "tensorboard", "out", "keep_weights")

SECTIONS = {"data": DataConfig, "budget": Budget, "recipe": Recipe, "execution": Execution}


@dataclass(frozen=True)
class SearchConfig:
    # ---- what to search
    space: str = "nasnet-cell"
    options: dict = field(default_factory=dict)            # space options (--option k=v)
    controller: str = "random"
    controller_options: dict = field(default_factory=dict)
    evaluator: str = "train"                                # train | table[:NAME] | ...
    evaluator_options: dict = field(default_factory=dict)
    reward: Any = "accuracy"                                # name or {name: mnas, target: ...}
    constraints: dict = field(default_factory=dict)         # max_params / max_flops / max_memory_kb
    init: list = field(default_factory=list)                # fixed points / nets asked first
    proxy: str = "synflow"          # the zero-cost proxy of proxy_warmup / proxy_screen
    proxy_warmup: int = 0           # score N random networks, start the controller from the best
    proxy_screen: int = 0           # evaluate only the best of every M proposals (0/1: off)
    trials: int = 8
    seed: int = 0
    retrain: int | None = None      # top K retrained stand-alone (None: the evaluator's default)
    retrain_epochs: int = 4         # their stand-alone training budget (epochs)
    # ---- the sections
    data: DataConfig = field(default_factory=DataConfig)
    budget: Budget = field(default_factory=Budget)
    recipe: Recipe = field(default_factory=Recipe)
    execution: Execution = field(default_factory=Execution)
    # ---- sweep (nas sweep)
    nets: list = field(default_factory=list)
    n: int = 0                      # genomes sampled from `space` for a sweep
    grid: dict = field(default_factory=dict)   # setting -> list of values (genomes × settings)
    # ---- tabular benchmark (nas table build)
    seeds: list = field(default_factory=list)   # training seeds per network (first: all)
    seeds_sample: int | None = None  # networks trained with the further seeds (None: all)
    networks: int | None = None     # only the first N distinct networks (tests; None: all)
    sample: int | None = None       # N distinct networks drawn at random instead (large spaces)
    # ---- output
    out: str | None = None
    top: int = 10
    keep_weights: int = 5           # trained weights kept of the K best trials (0: none)

    def __post_init__(self):
        for name, cls in SECTIONS.items():
            v = getattr(self, name)
            if isinstance(v, Mapping):
                object.__setattr__(self, name, _section(cls, v, name))
            elif not isinstance(v, cls):
                raise NasError(f"{name}: expected a mapping of {cls.__name__} keys, got {v!r}")
        _check_types(self, "config")
        for name in SECTIONS:
            _check_types(getattr(self, name), name)
        self.validate()

    # ------------------------------------------------------------------ flat names
    def get(self, key: str) -> Any:
        """The value of a key by its flat name (``epochs``, ``workers``, ``trials``…)."""
        section = FLAT.get(key)
        if section is None:
            raise NasError(f"unknown config key {key!r}")
        return getattr(getattr(self, section), key) if section != "" else getattr(self, key)

    def replace(self, **changes: Any) -> "SearchConfig":
        """A copy with keys changed; section keys by their flat name or as a section dict."""
        top: dict[str, Any] = {}
        parts: dict[str, dict] = {}
        for k, v in changes.items():
            section = FLAT.get(k)
            if k in SECTIONS:
                parts.setdefault(k, {}).update(v.__dict__ if not isinstance(v, Mapping) else v)
            elif section is None:
                close = difflib.get_close_matches(k, list(FLAT), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise NasError(f"unknown key {k!r}{hint}")
            elif section == "":
                top[k] = v
            else:
                parts.setdefault(section, {})[k] = v
        for name, kv in parts.items():
            top[name] = _section(SECTIONS[name], {**dataclasses.asdict(getattr(self, name)),
                                                  **kv}, name)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config") -> "SearchConfig":
        if not isinstance(d, Mapping):
            raise NasError(f"{where}: expected a mapping of keys to values, got "
                           f"{type(d).__name__}")
        try:
            return cls().replace(**{str(k).replace("-", "_"): v for k, v in d.items()})
        except NasError as e:
            raise NasError(f"{where}: {e}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SearchConfig":
        import yaml
        p = Path(path)
        try:
            text = p.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise NasError(f"cannot read config {str(p)!r}: "
                           f"{getattr(e, 'strerror', None) or e}") from None
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            raise NasError(f"{p}: bad YAML{at}: {getattr(e, 'problem', e)}") from None
        except RecursionError:
            raise NasError(f"{p}: YAML nested too deeply") from None
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
                raise NasError(f"{key}: {what}, got {self.get(key)!r}")
        d, b, r, x = self.data, self.budget, self.recipe, self.execution
        need(self.trials >= 1, "trials", "must be ≥ 1")
        need(d.dataset in DATASETS, "dataset", f"must be one of {', '.join(DATASETS)}")
        need(0 < d.val_fraction < 1, "val_fraction", "must be between 0 and 1")
        need(d.samples >= 10, "samples", "must be ≥ 10")
        for k in ("epochs", "steps"):
            need(getattr(b, k) is None or getattr(b, k) >= 1, k, "must be ≥ 1 (or null)")
        need(b.seconds is None or b.seconds > 0, "seconds", "must be > 0 (or null)")
        if b.epochs is None and b.steps is None and b.seconds is None:
            raise NasError("budget: set at least one of epochs, steps, seconds")
        need(r.optimizer in ("sgd", "adamw"), "optimizer", "must be sgd or adamw")
        need(r.lr > 0, "lr", "must be > 0")
        need(0 <= r.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
        need(r.weight_decay >= 0, "weight_decay", "must be ≥ 0")
        need(r.batch_size >= 1, "batch_size", "must be ≥ 1")
        need(r.eval_batch_size >= 1, "eval_batch_size", "must be ≥ 1")
        need(r.momentum >= 0, "momentum", "must be ≥ 0")
        need(r.warmup_epochs >= 0, "warmup_epochs", "must be ≥ 0")
        need(x.executor in (None, "ray", "local"), "executor", "must be ray or local")
        need(x.workers is None or x.workers >= 1, "workers", "must be ≥ 1 (or null)")
        need(x.cpus_per_trial > 0, "cpus_per_trial", "must be > 0")
        need(x.gpus_per_trial >= 0, "gpus_per_trial", "must be ≥ 0")
        need(x.gpus_per_trial <= 1 or float(x.gpus_per_trial).is_integer(),
             "gpus_per_trial", "must be a fraction ≤ 1 or a whole number")
        need(x.scheduler in ("fifo", "asha"), "scheduler", "must be fifo or asha")
        need(x.grace_epochs >= 1, "grace_epochs", "must be ≥ 1")
        need(x.max_failures >= 0, "max_failures", "must be ≥ 0")
        need(x.device in ("auto", "cpu", "cuda"), "device", "must be auto, cpu or cuda")
        need(self.n >= 0, "n", "must be ≥ 0")
        need(self.proxy_warmup >= 0, "proxy_warmup", "must be ≥ 0")
        need(self.proxy_screen >= 0, "proxy_screen", "must be ≥ 0")
        need(self.top >= 1, "top", "must be ≥ 1")
        need(self.retrain is None or self.retrain >= 0, "retrain", "must be ≥ 0 (or null)")
        need(self.retrain_epochs >= 1, "retrain_epochs", "must be ≥ 1")
        need(self.keep_weights >= 0, "keep_weights", "must be ≥ 0 (0: keep no weights)")
        for k, v in self.grid.items():
            if k not in GRID_KEYS:
                raise NasError(f"grid: {k!r} cannot vary; settings that can: "
                               f"{', '.join(sorted(GRID_KEYS))}")
            if not isinstance(v, list) or not v:
                raise NasError(f"grid.{k}: expected a non-empty list of values, got {v!r}")
            for value in v:     # each value must be valid where the flag would put it
                try:
                    self.replace(grid={}, **{k: value})
                except NasError as e:
                    raise NasError(f"grid.{k}: value {value!r}: {e}") from None
        for v in self.seeds:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise NasError(f"seeds: expected non-negative integers, got {self.seeds!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise NasError(f"seeds: a seed is listed twice in {self.seeds!r}")
        need(self.networks is None or self.networks >= 1, "networks", "must be ≥ 1 (or null)")
        need(self.sample is None or self.sample >= 1, "sample", "must be ≥ 1 (or null)")
        need(self.networks is None or self.sample is None, "sample",
             "give networks (the first N) or sample (N at random), not both")
        need(self.seeds_sample is None or self.seeds_sample >= 0, "seeds_sample",
             "must be ≥ 0 (or null: every network)")
        if d.input is not None:
            parse_shape(d.input, "input")
            if d.dataset not in ("synthetic", "folder"):
                raise NasError(f"input: sets the image size of the synthetic and folder data "
                               f"sets only; {d.dataset} images are "
                               f"{'1×8×8' if d.dataset == 'digits' else 'fixed'}")


def identity(config: "SearchConfig") -> dict:
    """What makes an experiment the experiment it is: every key a resume may not change."""
    import json
    return json.loads(json.dumps({k: config.get(k) for k in sorted(FLAT)
                                  if k not in RESUMABLE}, default=list))


#: flat key -> its section ("" for a top-level key)
FLAT: dict[str, str] = {f.name: "" for f in dataclasses.fields(SearchConfig)
                        if f.name not in SECTIONS}
for _name, _cls in SECTIONS.items():
    FLAT.update({f.name: _name for f in dataclasses.fields(_cls)})
#: settings a sweep grid may vary per trial (budget and recipe)
GRID_KEYS = {f.name for f in dataclasses.fields(Budget)} | {
    f.name for f in dataclasses.fields(Recipe)}

_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,),
          "list": (list,), "Any": (object,)}


def parse_shape(text: str, flag: str = "--input") -> tuple[int, int, int]:
    """``"3x227x227"`` -> (3, 227, 227); also accepts ``"227"`` (3 channels, square)."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise NasError(f"{flag} {text!r}: expected CxHxW, e.g. 3x224x224") from None
    if len(vals) == 1:
        vals = [3, vals[0], vals[0]]
    if len(vals) != 3 or min(vals) < 1:
        raise NasError(f"{flag} {text!r}: expected CxHxW with positive integers")
    return tuple(vals)  # type: ignore[return-value]


def _section(cls, values: Mapping[str, Any], name: str):
    if not isinstance(values, Mapping):
        raise NasError(f"{name}: expected a mapping, got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    for k in values:
        if k not in known:
            close = difflib.get_close_matches(str(k), list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise NasError(f"{name}: unknown key {k!r}{hint}")
    return cls(**{str(k): v for k, v in values.items()})


def _check_types(cfg: Any, where: str) -> None:
    """Check each value against its annotation (``int | None`` etc.); ints are accepted for
    floats; a comma string is accepted for a list (``init: resnet18,vgg11``)."""
    for f in dataclasses.fields(cfg):
        if f.name in SECTIONS:
            continue
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
