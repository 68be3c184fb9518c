"""Data sets for evaluation, held in memory as uint8 images: loaded once, split by seed.

``load_dataset(name, ...)`` returns a :class:`Data` (numpy arrays, cheap to ship to Ray
workers through the object store); ``data.to(device)`` gives the :class:`DeviceData` the
training loop iterates — whole-tensor batching and augmentation on the device, no DataLoader.

- ``digits``: scikit-learn's handwritten digits (1×8×8, 10 classes), embedded, works offline.
- ``cifar10``, ``cifar100``, ``mnist``, ``fashion-mnist``, ``svhn``: torchvision's classes
  reading the usual files under ``--data-dir`` (``download=False``); a missing or unreadable
  file is a :class:`~nas.errors.NasError` naming it.
- ``folder``: an image folder (``DIR/<class>/*.png``, or ``DIR/train/<class>`` and
  ``DIR/test/<class>``), resized to ``input`` (default 3×32×32).
- ``synthetic``: random images of shape ``input`` whose label is a fixed linear function of the
  pixels (learnable), for speed tests.

The validation split is held out of the training split (``val_fraction``, permutation fixed by
``seed``); the test split is only used when asked for (``test=True``: train on the whole
training split, evaluate on the test split), never by a search.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from nas.errors import NasError

_FOLDER_LIMIT_BYTES = 4 << 30  # an image folder must fit in memory at the requested size


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
def _cifar(name: str, folder: str, train_files: list[str], test_file: str, meta: str,
           classes: int, tv_cls: str):
    def load(root, test, input, samples):
        from torchvision import datasets
        if root.name == folder and not (root / folder).is_dir():
            root = root.parent                   # --data-dir pointed inside the folder
        base = root / folder
        hint = _HINT.format(cls=tv_cls)
        files = [_need(base / f, name, hint) for f in train_files + [meta]]
        if test:
            files.append(_need(base / test_file, name, hint))

        class Reader(getattr(datasets, tv_cls)):
            def _check_integrity(self):          # presence checked above; no md5 of copies
                return True

            def _load_meta(self):
                with open(os.path.join(self.root, self.base_folder, self.meta["filename"]),
                          "rb") as f:
                    self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]

        def read(train: bool):
            ds = _tv_read(name, files, lambda: Reader(str(root), train=train, download=False))
            return (np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)),
                    np.asarray(ds.targets, dtype=np.int64))
        return read(True), read(False) if test else None, classes, "crop_flip", 255.0
    return load


# ---------------------------------------------------------------------------- MNIST family
def _mnist(name: str, tv_cls: str):
    def load(root, test, input, samples):
        from torchvision import datasets
        if root.name == "raw" and root.parent.name == tv_cls:
            root = root.parent.parent
        elif root.name == tv_cls:
            root = root.parent
        raw = root / tv_cls / "raw"
        hint = _HINT.format(cls=tv_cls)
        splits = ["train"] + (["t10k"] if test else [])
        files = [_need(raw / f"{s}-{k}-idx{d}-ubyte", name, hint)
                 for s in splits for k, d in (("images", 3), ("labels", 1))]

        def read(train: bool):
            ds = _tv_read(name, files, lambda: getattr(datasets, tv_cls)(
                str(root), train=train, download=False))
            return ds.data.numpy()[:, None].astype(np.uint8), ds.targets.numpy().astype(np.int64)
        return read(True), read(False) if test else None, 10, "", 255.0
    return load


# ---------------------------------------------------------------------------- SVHN
def _svhn(root, test, input, samples):
    from torchvision import datasets
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
            try:
                img = ds.loader(path).convert("L" if c == 1 else "RGB").resize((w, h))
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
                              "batches.meta", 10, "CIFAR10")),
    "cifar100": _Loader(_cifar("cifar100", "cifar-100-python", ["train"], "test", "meta", 100,
                               "CIFAR100")),
    "mnist": _Loader(_mnist("mnist", "MNIST")),
    "fashion-mnist": _Loader(_mnist("fashion-mnist", "FashionMNIST")),
    "svhn": _Loader(_svhn),
    "folder": _Loader(_folder),
    "synthetic": _Loader(_synthetic, needs_dir=False),
}
