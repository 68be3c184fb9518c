"""Data sets for evaluation, held in memory as uint8 images: loaded once, split by seed.

``load_dataset(name, ...)`` returns a :class:`Data` (numpy arrays, cheap to ship to Ray
workers through the object store); ``data.to(device)`` gives the :class:`DeviceData` the
training loop iterates — whole-tensor batching and augmentation on the device, no DataLoader.

- ``digits``: scikit-learn's handwritten digits (1×8×8, 10 classes), embedded, works offline.
- ``cifar10``, ``cifar100``, ``mnist``, ``fashion-mnist``, ``svhn``: the usual files of
  torchvision's layout under ``--data-dir`` (nothing is downloaded); a missing or unreadable
  file is a :class:`~nas.errors.NasError` naming it.
- ``folder``: an image folder (``DIR/<class>/*.png``, or ``DIR/train/<class>`` and
  ``DIR/test/<class>``), resized to ``input`` (default 3×32×32).
- ``synthetic``: random images of shape ``input`` whose label is a fixed linear function of the
  pixels (learnable), for speed tests.

The validation split is held out of the training split (``val_fraction``, permutation fixed by
``seed``); the test split is only used when asked for (``test=True``: train on the whole
training split, evaluate on the test split), never by a search.

Data is read without executing anything found in the data directory. CIFAR batches are
pickles: they are read here by an unpickler that admits only what the format holds (numeric
numpy arrays, rebuilt here from their bytes; dicts, lists, strings, bytes) and refuses anything
else (a ``__reduce__`` payload such as ``os.system``) with a NasError naming the file, before
it runs. MNIST's IDX files are parsed here as plain binary (torchvision's processed ``.pt``
files are never loaded); SVHN's ``.mat`` files go through scipy's loadmat (arrays only);
folder images are opened by Pillow restricted to the raster formats of their extensions
(never EPS/PDF, which Pillow would hand to Ghostscript).
"""
from __future__ import annotations

import io
import math
import os
import pickle
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from nas.errors import NasError

_FOLDER_LIMIT_BYTES = 4 << 30  # an image folder must fit in memory at the requested size
_PICKLE_LIMIT_BYTES = 1 << 30  # a CIFAR batch file (CIFAR-100's train is 155 MB)
_IMAGE_FORMATS = ("PNG", "JPEG", "MPO", "BMP", "PPM", "TIFF", "WEBP")  # ImageFolder's extensions


@dataclass
class Data:
    """A classification data set split into train / eval (val, or test when ``split`` says so).
    Images are ``N×C×H×W`` uint8; ``x / scale_max`` lies in [0, 1]."""

    name: str
    shape: tuple[int, int, int]
    num_classes: int
    train_x: np.ndarray
    train_y: np.ndarray
    eval_x: np.ndarray
    eval_y: np.ndarray
    scale_max: float = 255.0
    mean: tuple = ()
    std: tuple = ()
    augment: str = ""               # "" | "crop" | "crop_flip"
    split: str = "train/val"
    test_x: np.ndarray | None = None  # the test split, carried only when asked for (a tabular
    test_y: np.ndarray | None = None  # benchmark records it; a search never sees it)

    def __post_init__(self):
        if not self.mean:
            x = self.train_x.astype(np.float32) / self.scale_max
            self.mean = tuple(float(v) for v in x.mean(axis=(0, 2, 3)))
            self.std = tuple(max(float(v), 1e-3) for v in x.std(axis=(0, 2, 3)))

    def describe(self) -> str:
        return (f"{self.name} {'×'.join(map(str, self.shape))}, {self.num_classes} classes, "
                f"{len(self.train_y)} train / {len(self.eval_y)} "
                f"{self.split.split('/')[1]}")

    def to(self, device="cpu") -> "DeviceData":
        return DeviceData(self, device)


class DeviceData:
    """The tensors of a :class:`Data` on one device, with whole-batch augmentation."""

    def __init__(self, data: Data, device):
        import torch
        self.data = data
        self.device = torch.device(device)
        self.train_x = torch.from_numpy(np.ascontiguousarray(data.train_x)).to(self.device)
        self.train_y = torch.from_numpy(data.train_y.astype(np.int64)).to(self.device)
        self.eval_x = torch.from_numpy(np.ascontiguousarray(data.eval_x)).to(self.device)
        self.eval_y = torch.from_numpy(data.eval_y.astype(np.int64)).to(self.device)
        shape = (1, -1, 1, 1)
        std = torch.tensor(data.std).view(shape)
        # x_norm = x_uint8 * a + b  (scale to [0, 1] and normalise in one multiply-add)
        self._a = (1.0 / (data.scale_max * std)).to(self.device)
        self._b = (-torch.tensor(data.mean).view(shape) / std).to(self.device)
        self._pad = 4 if data.shape[1] >= 16 else 0
        self.test_x = self.test_y = None
        if data.test_x is not None:
            self.test_x = torch.from_numpy(np.ascontiguousarray(data.test_x)).to(self.device)
            self.test_y = torch.from_numpy(data.test_y.astype(np.int64)).to(self.device)

    def __len__(self) -> int:
        return len(self.train_y)

    def normalise(self, x):
        return x.float() * self._a + self._b

    def train_batches(self, batch_size: int, generator) -> Iterator[tuple]:
        """One epoch of shuffled, augmented, normalised batches (the last partial batch is
        dropped when there is more than one batch, to keep batch-norm statistics sane)."""
        import torch
        n = len(self.train_y)
        perm = torch.randperm(n, generator=generator).to(self.device)
        stop = n - n % batch_size if n > batch_size else n
        for i in range(0, stop, batch_size):
            idx = perm[i:i + batch_size]
            x = self.train_x[idx]
            if self.data.augment:
                x = self._augment(x, generator)
            yield self.normalise(x), self.train_y[idx]

    def eval_batches(self, batch_size: int, split: str = "eval") -> Iterator[tuple]:
        """Batches of the evaluation split (``split="test"``: the carried test split)."""
        x, y = (self.test_x, self.test_y) if split == "test" else (self.eval_x, self.eval_y)
        for i in range(0, len(y), batch_size):
            yield self.normalise(x[i:i + batch_size]), y[i:i + batch_size]

    def steps_per_epoch(self, batch_size: int) -> int:
        n = len(self.train_y)
        return n // batch_size if n > batch_size else 1

    def _augment(self, x, generator):
        """Random crop with zero padding (4 px, images ≥ 16 px) and, for ``crop_flip``,
        a horizontal flip with probability ½ — per sample, as whole-batch tensor ops."""
        import torch
        b, _, h, w = x.shape
        p = self._pad
        if p:
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (b, 1, 1), generator=generator).to(x.device)
            dx = torch.randint(0, 2 * p + 1, (b, 1, 1), generator=generator).to(x.device)
            rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy).expand(b, h, w)
            cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx).expand(b, h, w)
            bi = torch.arange(b, device=x.device).view(b, 1, 1).expand(b, h, w)
            x = padded[bi, :, rows, cols].permute(0, 3, 1, 2)
        if self.data.augment == "crop_flip":
            flip = (torch.rand(b, generator=generator) < 0.5).to(x.device).view(b, 1, 1, 1)
            x = torch.where(flip, x.flip(3), x)
        return x.contiguous()


# ============================================================================ loading


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, seed: int = 0,
                 val_fraction: float = 0.2, input: tuple | None = None, samples: int = 2048,
                 augment: bool | None = None, test: bool = False,
                 with_test: bool = False) -> Data:
    """Load ``name`` and split it. ``test=True``: the whole training split vs the test split.
    ``with_test=True``: train/val as usual, and the test split carried along (``test_x``)."""
    if name not in LOADERS:
        raise NasError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    kind = LOADERS[name]
    root = _root(name, data_dir) if kind.needs_dir else None
    (tx, ty), test_split, classes, default_aug, scale = kind.load(
        root, test=test or with_test, input=input, samples=samples)
    if test:
        train, held = (tx, ty), test_split
    else:
        n = len(ty)
        n_val = max(1, int(round(n * val_fraction)))
        perm = np.random.default_rng(seed).permutation(n)
        train = (tx[perm[n_val:]], ty[perm[n_val:]])
        held = (tx[perm[:n_val]], ty[perm[:n_val]])
    aug = default_aug if augment is None or augment else ""
    extra = {}
    if with_test and not test:
        if test_split is None:
            raise NasError(f"dataset {name!r} has no test split to record")
        extra = {"test_x": test_split[0], "test_y": test_split[1]}
    return Data(name, tuple(int(v) for v in tx.shape[1:]), classes, train[0], train[1],
                held[0], held[1], scale_max=scale, augment=aug,
                split="train/test" if test else "train/val", **extra)


@dataclass(frozen=True)
class _Loader:
    load: object        # (root, test, input, samples) -> (train, test|None, classes, aug, scale)
    needs_dir: bool = True


def _root(name: str, data_dir) -> Path:
    if data_dir is None:
        raise NasError(f"dataset {name!r} is read from disk: give --data-dir (the directory "
                       f"torchvision's {name} files are in; nothing is downloaded)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise NasError(f"--data-dir {str(root)!r} is not a directory")
    return root


def _need(path: Path, name: str, hint: str = "") -> Path:
    if not path.is_file():
        raise NasError(f"{name}: expected file {path} not found{hint}")
    return path


_HINT = (" (torchvision's layout; fetch it on a machine with internet with "
         "torchvision.datasets.{cls}(root, download=True) and copy the directory)")


def _tv_read(name: str, files: list[Path], make):
    """Run a torchvision constructor, turning its parse errors into one NasError."""
    try:
        return make()
    except NasError:
        raise
    except Exception as e:  # noqa: BLE001 — any parse failure is a malformed file
        listed = ", ".join(str(f) for f in files)
        raise NasError(f"{name}: cannot read {listed} in torchvision's format: "
                       f"{type(e).__name__}: {e}") from None


# ---------------------------------------------------------------------------- digits
_DIGITS_TEST = 360   # a fixed held-out test split of sklearn's 1797 digits (never searched)


def _digits(root, test, input, samples):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = d.images.astype(np.uint8)[:, None]           # 0..16
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(12345).permutation(len(y))   # fixed, independent of seed
    te, tr = perm[:_DIGITS_TEST], perm[_DIGITS_TEST:]
    return (x[tr], y[tr]), (x[te], y[te]), 10, "", 16.0


# ---------------------------------------------------------------------------- CIFAR
class _Refused(pickle.UnpicklingError):
    """A pickle asked for something a data file has no business holding."""


class _NdarrayRef:
    """Stands for ``numpy.ndarray`` in a pickle: accepted as the type argument of
    ``_reconstruct``, never called (a direct call could allocate any shape)."""

    def __init__(self, *args, **kwargs):
        raise _Refused("numpy.ndarray called directly")


_NUMERIC = re.compile(r"^[<>|=]?[biuf][0-9]{1,2}$")


class _Dtype:
    """A pickled ``numpy.dtype``, recorded; only plain numeric dtypes become real ones (an
    object or structured dtype, or state that sets dtype flags, never reaches numpy)."""

    def __init__(self, spec=None, align=False, copy=False):
        self.spec, self.order = spec, None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or any(
                v is not None for v in state[2:5]):
            raise _Refused(f"numpy dtype {self.spec!r} with fields or subarrays")
        self.order = state[1]

    def real(self) -> np.dtype:
        if not isinstance(self.spec, str) or not _NUMERIC.match(self.spec):
            raise _Refused(f"numpy dtype {self.spec!r} (only numeric arrays)")
        dt = np.dtype(self.spec)
        return dt.newbyteorder(self.order) if self.order in ("<", ">") else dt


def _raw_bytes(raw, n: int) -> bytes:
    if isinstance(raw, str):                   # a Python 2 pickle read with latin1
        raw = raw.encode("latin1")
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != n:
        raise pickle.UnpicklingError(f"array data of {len(raw) if hasattr(raw, '__len__') else '?'}"
                                     f" bytes where {n} are needed")
    return bytes(raw)


def _shape(shape) -> tuple:
    if not isinstance(shape, tuple) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise pickle.UnpicklingError(f"bad array shape {shape!r}")
    return shape


class _Array:
    """A pickled array (``_reconstruct`` then its state), recorded; :meth:`real` builds it from
    the bytes with a checked dtype and size, so numpy's own unpickling never runs."""

    def __setstate__(self, state):
        self.state = state

    def real(self) -> np.ndarray:
        state = getattr(self, "state", None)
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]                  # (version, shape, dtype, fortran, data)
        if not isinstance(state, tuple) or len(state) != 4 or not isinstance(state[1], _Dtype):
            raise pickle.UnpicklingError("malformed numpy array state")
        shape, dt, fortran, raw = _shape(state[0]), state[1].real(), state[2], state[3]
        data = _raw_bytes(raw, math.prod(shape) * dt.itemsize)
        return np.frombuffer(data, dt).reshape(shape, order="F" if fortran else "C").copy()


def _real(v, depth: int = 0):
    """``v`` with recorded arrays made real (dicts, lists and tuples a few levels deep)."""
    if isinstance(v, _Array):
        return v.real()
    if depth > 4:
        return v
    if isinstance(v, dict):
        return {k: _real(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)) and any(isinstance(x, (_Array, dict, list)) for x in v):
        return type(v)(_real(x, depth + 1) for x in v)
    return v


class _DataUnpickler(pickle._Unpickler):
    """The pure-Python unpickler (it never pre-allocates a size read from the file) with a
    ``find_class`` that admits only what CIFAR's pickles hold: numeric numpy arrays, and the
    builtins of dicts, lists, strings and bytes. Anything else is refused, unrun."""

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data), encoding="latin1")

        def reconstruct(subtype, shape, dtype):
            if subtype is not _NdarrayRef:
                raise _Refused(f"numpy _reconstruct of {type(subtype).__name__}")
            return _Array()

        def frombuffer(buf, dtype, shape, order="C"):   # protocol 5
            if not isinstance(dtype, _Dtype):
                raise pickle.UnpicklingError("malformed numpy array")
            dt, shape = dtype.real(), _shape(shape)
            data = _raw_bytes(buf, math.prod(shape) * dt.itemsize)
            return np.frombuffer(data, dt).reshape(shape, order="F" if order == "F" else "C").copy()

        def scalar(dtype, data=b""):
            if not isinstance(dtype, _Dtype):
                raise pickle.UnpicklingError("malformed numpy scalar")
            dt = dtype.real()
            return np.frombuffer(_raw_bytes(data, dt.itemsize), dt)[0]

        def encode(text, encoding="utf-8"):    # how protocol 2 stores bytes
            if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
                raise _Refused(f"_codecs.encode with encoding {encoding!r}")
            return text.encode("latin1")

        def sized(t):                          # bytes(n) would allocate n bytes
            def make(*args):
                if args and isinstance(args[0], int):
                    raise _Refused(f"builtins.{t.__name__} of a size")
                return t(*args)
            return make

        self._allowed = {
            ("numpy", "ndarray"): _NdarrayRef, ("numpy", "dtype"): _Dtype,
            ("_codecs", "encode"): encode,
            **{(m, f): fn for m in ("numpy._core.multiarray", "numpy.core.multiarray")
               for f, fn in (("_reconstruct", reconstruct), ("scalar", scalar))},
            **{(m, "_frombuffer"): frombuffer for m in ("numpy._core.numeric",
                                                        "numpy.core.numeric")},
            **{(m, t.__name__): t for m in ("builtins", "__builtin__")
               for t in (dict, list, tuple, set, frozenset, str, int, float, bool)},
            **{(m, t.__name__): sized(t) for m in ("builtins", "__builtin__")
               for t in (bytes, bytearray)},
        }

    def find_class(self, module, name):
        hit = self._allowed.get((module, name))
        if hit is None:
            shown = "os" if module in ("posix", "nt") else module
            raise _Refused(f"{shown}.{name}")
        return hit

    def persistent_load(self, pid):
        raise _Refused("a persistent id")


def _unpickle(name: str, path: Path):
    """The object pickled in data file ``path``, read without running anything; NasError if
    it cannot be read or asks for anything but plain data."""
    try:
        with open(path, "rb") as f:
            data = f.read(_PICKLE_LIMIT_BYTES + 1)
    except OSError as e:
        raise NasError(f"{name}: cannot read {path}: {e.strerror or e}") from None
    if len(data) > _PICKLE_LIMIT_BYTES:
        raise NasError(f"{name}: {path} is larger than {_PICKLE_LIMIT_BYTES >> 30} GB; not a "
                       "CIFAR file")
    try:
        return _real(_DataUnpickler(data).load())
    except _Refused as e:
        raise NasError(f"{name}: refusing to unpickle {e} from {path}: a CIFAR file holds only "
                       "numpy arrays, lists, dicts and strings (nothing was run)") from None
    except Exception as e:  # noqa: BLE001 — any parse failure is a malformed file
        why = ("not a pickle (unknown opcode)" if isinstance(e, KeyError) else
               f"{type(e).__name__}: {str(e)[:200]}")
        raise NasError(f"{name}: cannot read {path} in torchvision's format (a pickled "
                       f"batch): {why}") from None


def _field(entry, key: str):
    if isinstance(entry, dict):
        for k in (key, key.encode()):
            if k in entry:
                return entry[k]
    return None


def _cifar_batch(name: str, path: Path, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``N×3×32×32`` uint8 and labels of one CIFAR batch file."""
    entry = _unpickle(name, path)
    bad = f"{name}: {path} is not a CIFAR batch: "
    if not isinstance(entry, dict):
        raise NasError(bad + f"expected a dict, got {type(entry).__name__}")
    x = _field(entry, "data")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.size % 3072:
        raise NasError(bad + "'data' must be a uint8 array of 3×32×32 images")
    labels = _field(entry, "labels")
    if labels is None:
        labels = _field(entry, "fine_labels")
    try:
        y = np.asarray(labels if labels is not None else [], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        y = None
    x = x.reshape(-1, 3, 32, 32)
    if y is None or y.ndim != 1 or len(y) != len(x):
        raise NasError(bad + f"expected {len(x)} integer 'labels' (or 'fine_labels')")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise NasError(bad + f"labels must lie in 0..{classes - 1}, found {y.min()}..{y.max()}")
    return x, y


def _cifar(name: str, folder: str, train_files: list[str], test_file: str, meta: str,
           classes: int, tv_cls: str, meta_key: str):
    def load(root, test, input, samples):
        if root.name == folder and not (root / folder).is_dir():
            root = root.parent                   # --data-dir pointed inside the folder
        base = root / folder
        hint = _HINT.format(cls=tv_cls)
        for f in train_files + [meta] + ([test_file] if test else []):
            _need(base / f, name, hint)
        names = _field(_unpickle(name, base / meta), meta_key)
        if not isinstance(names, list):
            raise NasError(f"{name}: {base / meta} is not a CIFAR meta file: no {meta_key!r} "
                           "list")

        def read(paths: list[Path]):
            parts = [_cifar_batch(name, p, classes) for p in paths]
            return (np.ascontiguousarray(np.concatenate([x for x, _ in parts])),
                    np.concatenate([y for _, y in parts]))
        train = read([base / f for f in train_files])
        return train, read([base / test_file]) if test else None, classes, "crop_flip", 255.0
    return load


# ---------------------------------------------------------------------------- MNIST family
def _idx(name: str, path: Path, ndim: int) -> np.ndarray:
    """A uint8 IDX file (MNIST's format: magic 0x0000080n, n big-endian sizes, the bytes)."""
    head_len = 4 + 4 * ndim
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(head_len)
            bad = f"{name}: {path} is not an IDX file of {ndim}-d uint8 data: "
            if len(head) < head_len or struct.unpack(">I", head[:4])[0] != 0x800 | ndim:
                raise NasError(bad + f"expected magic 0x{0x800 | ndim:08x}")
            dims = struct.unpack(f">{ndim}I", head[4:])
            if size != head_len + math.prod(dims):
                raise NasError(bad + f"its header says {'×'.join(map(str, dims))} bytes of data,"
                                     f" the file holds {size - head_len:,}")
            return np.fromfile(f, np.uint8, math.prod(dims)).reshape(dims)
    except OSError as e:
        raise NasError(f"{name}: cannot read {path}: {e.strerror or e}") from None


def _mnist(name: str, tv_cls: str):
    def load(root, test, input, samples):
        if root.name == "raw" and root.parent.name == tv_cls:
            root = root.parent.parent
        elif root.name == tv_cls:
            root = root.parent
        raw = root / tv_cls / "raw"
        hint = _HINT.format(cls=tv_cls)
        splits = ["train"] + (["t10k"] if test else [])
        for s in splits:
            for k, d in (("images", 3), ("labels", 1)):
                _need(raw / f"{s}-{k}-idx{d}-ubyte", name, hint)

        def read(split: str):
            x = _idx(name, raw / f"{split}-images-idx3-ubyte", 3)
            y = _idx(name, raw / f"{split}-labels-idx1-ubyte", 1).astype(np.int64)
            if len(x) != len(y):
                raise NasError(f"{name}: {raw} holds {len(x)} {split} images but {len(y)} labels")
            if len(y) and y.max() >= 10:
                raise NasError(f"{name}: {raw / f'{split}-labels-idx1-ubyte'}: labels must lie "
                               f"in 0..9, found {y.max()}")
            return np.ascontiguousarray(x[:, None]), y
        return read("train"), read("t10k") if test else None, 10, "", 255.0
    return load


# ---------------------------------------------------------------------------- SVHN
def _svhn(root, test, input, samples):
    from torchvision import datasets            # scipy.io.loadmat: arrays only, no code
    hint = _HINT.format(cls="SVHN")
    files = [_need(root / "train_32x32.mat", "svhn", hint)]
    if test:
        files.append(_need(root / "test_32x32.mat", "svhn", hint))

    class Reader(datasets.SVHN):
        def _check_integrity(self):
            return True

    def read(split: str):
        ds = _tv_read("svhn", files, lambda: Reader(str(root), split=split, download=False))
        return np.ascontiguousarray(ds.data), ds.labels.astype(np.int64)
    return read("train"), read("test") if test else None, 10, "crop", 255.0


# ---------------------------------------------------------------------------- image folder
def _folder(root, test, input, samples):
    from PIL import Image
    from torchvision.datasets import ImageFolder
    c, h, w = input or (3, 32, 32)
    train_dir = root / "train" if (root / "train").is_dir() else root
    test_dir = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
    if test and test_dir is None:
        raise NasError(f"folder: no test split: expected {root}/test/<class>/ (or val/) next "
                       f"to {root}/train/<class>/")

    def read(d: Path, classes: list | None):
        try:
            ds = ImageFolder(str(d))
        except (FileNotFoundError, RuntimeError) as e:
            raise NasError(f"folder: expected class directories with images under {d}: "
                           f"{e}") from None
        if classes is not None and ds.classes != classes:
            raise NasError(f"folder: {d} has classes {ds.classes}, the training split has "
                           f"{classes}")
        if len(ds) * c * h * w > _FOLDER_LIMIT_BYTES:
            raise NasError(f"folder: {len(ds)} images at {c}×{h}×{w} do not fit in memory "
                           f"(limit {_FOLDER_LIMIT_BYTES >> 30} GB); use a smaller --input")
        x = np.empty((len(ds), c, h, w), np.uint8)
        for i, (path, _) in enumerate(ds.samples):
            try:  # only raster formats: Pillow would hand EPS/PDF to Ghostscript
                with Image.open(path, formats=_IMAGE_FORMATS) as im:
                    img = im.convert("L" if c == 1 else "RGB").resize((w, h))
            except Exception as e:  # noqa: BLE001
                raise NasError(f"folder: cannot read image {path}: {e}") from None
            a = np.asarray(img, np.uint8)
            x[i] = a[None] if c == 1 else a.transpose(2, 0, 1)
        return (x, np.asarray(ds.targets, np.int64)), ds.classes

    if c not in (1, 3):
        raise NasError(f"folder: --input must have 1 or 3 channels, got {c}")
    train, classes = read(train_dir, None)
    held = read(test_dir, classes)[0] if test else None
    return train, held, len(classes), "crop_flip", 255.0


# ---------------------------------------------------------------------------- synthetic
def _synthetic(root, test, input, samples):
    c, h, w = input or (3, 32, 32)
    rng = np.random.default_rng(2024)            # the data set is fixed; splits follow seed
    n_test = max(10, samples // 5)
    x = rng.integers(0, 256, (samples + n_test, c, h, w), dtype=np.uint8)
    proj = rng.standard_normal((c * h * w, 10)).astype(np.float32)
    y = ((x.reshape(len(x), -1).astype(np.float32) - 127.5) @ proj).argmax(1).astype(np.int64)
    return (x[:samples], y[:samples]), (x[samples:], y[samples:]), 10, "", 255.0


LOADERS: dict[str, _Loader] = {
    "digits": _Loader(_digits, needs_dir=False),
    "cifar10": _Loader(_cifar("cifar10", "cifar-10-batches-py",
                              [f"data_batch_{i}" for i in range(1, 6)], "test_batch",
                              "batches.meta", 10, "CIFAR10", "label_names")),
    "cifar100": _Loader(_cifar("cifar100", "cifar-100-python", ["train"], "test", "meta", 100,
                               "CIFAR100", "fine_label_names")),
    "mnist": _Loader(_mnist("mnist", "MNIST")),
    "fashion-mnist": _Loader(_mnist("fashion-mnist", "FashionMNIST")),
    "svhn": _Loader(_svhn),
    "folder": _Loader(_folder),
    "synthetic": _Loader(_synthetic, needs_dir=False),
}
