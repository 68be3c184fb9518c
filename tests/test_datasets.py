"""Data sets: digits splits, torchvision formats read from tiny files written here, image
folders, synthetic data, clear errors, and the in-memory batching/augmentation."""
import pickle
import struct

import numpy as np
import pytest
import torch

from evaluators.datasets import Data, load_dataset
from nas.errors import NasError


def _rows(x: np.ndarray) -> list[bytes]:
    return sorted(r.tobytes() for r in x.reshape(len(x), -1))


# ----------------------------------------------------------------------------- digits

def test_digits_split_sizes_and_determinism():
    d = load_dataset("digits", seed=0)
    assert d.shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.train_y) + len(d.eval_y) == 1797 - 360          # test split held out
    assert len(d.eval_y) == round((1797 - 360) * 0.2)
    assert d.train_x.dtype == np.uint8 and d.train_x.max() == 16
    again = load_dataset("digits", seed=0)
    assert np.array_equal(d.train_x, again.train_x) and np.array_equal(d.eval_y, again.eval_y)
    other = load_dataset("digits", seed=1)
    assert not np.array_equal(d.eval_x, other.eval_x)


def test_digits_test_split_is_fixed_and_never_in_search_splits():
    t0, t1 = load_dataset("digits", seed=0, test=True), load_dataset("digits", seed=5, test=True)
    assert t0.split == "train/test" and len(t0.eval_y) == 360
    assert np.array_equal(t0.eval_x, t1.eval_x)                  # independent of the seed
    for seed in (0, 3):
        s = load_dataset("digits", seed=seed)
        # the search's train+val is exactly the test-mode training split: no test image in it
        assert _rows(np.concatenate([s.train_x, s.eval_x])) == _rows(t0.train_x)


def test_val_fraction_and_unknown_dataset():
    d = load_dataset("digits", val_fraction=0.5)
    assert abs(len(d.eval_y) - len(d.train_y)) <= 1
    with pytest.raises(NasError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")


def test_synthetic_shape_and_learnable_labels():
    d = load_dataset("synthetic", input=(3, 12, 10), samples=300, seed=0)
    assert d.shape == (3, 12, 10) and len(d.train_y) == 240 and len(d.eval_y) == 60
    assert len(np.unique(np.concatenate([d.train_y, d.eval_y]))) == 10
    # the data set itself is fixed; only the split follows the seed
    a, b = load_dataset("synthetic", samples=50, seed=0), load_dataset("synthetic", samples=50,
                                                                       seed=1)
    assert _rows(np.concatenate([a.train_x, a.eval_x])) == _rows(np.concatenate([b.train_x,
                                                                                 b.eval_x]))


# ----------------------------------------------------------------------------- torchvision files

def _images(n, c, h, w, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, c, h, w), dtype=np.uint8), rng.integers(0, 10, n)


def _write_cifar10(root, n=6):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    written = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x, y = _images(n, 3, 32, 32, seed=i)
        written[name] = (x, y)
        with open(base / name, "wb") as f:
            pickle.dump({"data": x.reshape(n, -1), "labels": [int(v) for v in y]}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{k}" for k in range(10)]}, f)
    return written


def test_cifar10_reads_torchvision_pickles(tmp_path):
    written = _write_cifar10(tmp_path)
    d = load_dataset("cifar10", tmp_path, seed=0, val_fraction=0.2)
    assert d.shape == (3, 32, 32) and d.num_classes == 10 and d.augment == "crop_flip"
    all_x = np.concatenate([d.train_x, d.eval_x])
    train_x = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)])
    assert _rows(all_x) == _rows(train_x)                          # pixels survive, CHW order
    assert len(d.eval_y) == 6 and len(d.train_y) == 24
    t = load_dataset("cifar10", tmp_path, test=True)
    assert np.array_equal(t.eval_x, written["test_batch"][0])
    assert np.array_equal(t.eval_y, written["test_batch"][1])
    # --data-dir may also point inside the torchvision folder
    inner = load_dataset("cifar10", tmp_path / "cifar-10-batches-py", seed=0)
    assert np.array_equal(inner.train_x, d.train_x)


def test_cifar100_reads_fine_labels(tmp_path):
    base = tmp_path / "cifar-100-python"
    base.mkdir()
    x, _ = _images(10, 3, 32, 32)
    y = np.arange(10) * 9
    for name in ("train", "test"):
        with open(base / name, "wb") as f:
            pickle.dump({"data": x.reshape(10, -1), "fine_labels": [int(v) for v in y]}, f)
    with open(base / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{k}" for k in range(100)]}, f)
    d = load_dataset("cifar100", tmp_path, test=True)
    assert d.num_classes == 100 and sorted(d.train_y) == sorted(y)


def _write_idx(path, x=None, y=None):
    with open(path, "wb") as f:
        if x is not None:
            f.write(struct.pack(">IIII", 0x803, len(x), x.shape[1], x.shape[2]) + x.tobytes())
        else:
            f.write(struct.pack(">II", 0x801, len(y)) + y.astype(np.uint8).tobytes())


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_family_reads_idx_files(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    x, y = _images(20, 1, 28, 28)
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", x=x[:, 0])
        _write_idx(raw / f"{split}-labels-idx1-ubyte", y=y)
    d = load_dataset(name, tmp_path, seed=0)
    assert d.shape == (1, 28, 28) and len(d.train_y) + len(d.eval_y) == 20
    assert _rows(np.concatenate([d.train_x, d.eval_x])) == _rows(x)
    assert d.augment == ""


def test_svhn_reads_mat_files(tmp_path):
    import scipy.io
    x, _ = _images(12, 3, 32, 32)
    y = np.arange(1, 13) % 10 + 1                                  # SVHN stores 0 as 10
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": x.transpose(2, 3, 1, 0),
                                                   "y": y.reshape(-1, 1).astype(np.uint8)})
    d = load_dataset("svhn", tmp_path, val_fraction=0.25)
    assert d.shape == (3, 32, 32) and d.augment == "crop"
    assert sorted(np.concatenate([d.train_y, d.eval_y])) == sorted(y % 10)
    assert _rows(np.concatenate([d.train_x, d.eval_x])) == _rows(x)


def test_missing_data_names_the_expected_file(tmp_path):
    with pytest.raises(NasError, match="--data-dir"):
        load_dataset("cifar10")
    with pytest.raises(NasError, match="not a directory"):
        load_dataset("cifar10", tmp_path / "nope")
    with pytest.raises(NasError, match=r"cifar-10-batches-py/data_batch_1 not found"):
        load_dataset("cifar10", tmp_path)
    with pytest.raises(NasError, match=r"MNIST/raw/train-images-idx3-ubyte not found"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(NasError, match=r"train_32x32.mat not found"):
        load_dataset("svhn", tmp_path)
    _write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    load_dataset("cifar10", tmp_path)                              # a search needs no test file
    with pytest.raises(NasError, match="test_batch not found"):
        load_dataset("cifar10", tmp_path, test=True)


def test_malformed_file_is_a_clear_error(tmp_path):
    _write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(NasError, match=r"cifar10: cannot read .*data_batch_3.* torchvision's "
                                       r"format"):
        load_dataset("cifar10", tmp_path)


# ----------------------------------------------------------------------------- image folder

def _write_folder(root, classes=("cat", "dog"), n=3, size=(20, 14)):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for k in range(n):
                a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(a).save(root / split / c / f"{k}.png")


def test_image_folder_resized_in_memory(tmp_path):
    _write_folder(tmp_path)
    d = load_dataset("folder", tmp_path, input=(3, 16, 16), val_fraction=0.5)
    assert d.shape == (3, 16, 16) and d.num_classes == 2 and len(d.train_y) == 3
    t = load_dataset("folder", tmp_path, input=(1, 8, 8), test=True)
    assert t.shape == (1, 8, 8) and len(t.eval_y) == 6 and sorted(t.eval_y) == [0, 0, 0, 1, 1, 1]
    (tmp_path / "test" / "dog").rename(tmp_path / "test" / "bird")
    with pytest.raises(NasError, match="has classes"):
        load_dataset("folder", tmp_path, test=True)
    with pytest.raises(NasError, match="class directories"):
        load_dataset("folder", tmp_path / "train" / "cat")


# ----------------------------------------------------------------------------- batching

def _tiny(augment, h=16, n=6):
    x = np.random.default_rng(1).integers(0, 256, (n, 1, h, h), dtype=np.uint8)
    y = np.arange(n)
    return Data("t", (1, h, h), n, x, y, x[:2], y[:2], augment=augment)


def test_batches_cover_the_epoch_normalised():
    d = _tiny("")
    dd = d.to("cpu")
    g = torch.Generator().manual_seed(0)
    batches = list(dd.train_batches(2, g))
    assert len(batches) == dd.steps_per_epoch(2) == 3
    ys = torch.cat([y for _, y in batches])
    assert sorted(ys.tolist()) == list(range(6))                  # each sample once
    x = torch.cat([x for x, _ in batches])
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std(unbiased=False)) - 1) < 1e-3
    assert sum(len(y) for _, y in dd.eval_batches(1)) == 2


def test_crop_flip_augmentation_is_a_padded_crop_or_its_mirror():
    d = _tiny("crop_flip")
    dd = d.to("cpu")
    g = torch.Generator().manual_seed(3)
    (x, y), = list(dd.train_batches(6, g))
    src = torch.from_numpy(d.train_x)
    padded = torch.nn.functional.pad(src, (4, 4, 4, 4))
    moved = 0
    for xi, yi in zip(x, y):
        found = None
        for dy in range(9):
            for dx in range(9):
                crop = padded[yi, :, dy:dy + 16, dx:dx + 16]
                for cand, flipped in ((crop, False), (crop.flip(2), True)):
                    if torch.allclose(dd.normalise(cand[None])[0], xi, atol=1e-5):
                        found = (dy, dx, flipped)
        assert found is not None
        moved += found != (4, 4, False)
    assert moved >= 3                                              # it really augments


def test_small_images_are_only_flipped():
    d = _tiny("crop_flip", h=8)
    dd = d.to("cpu")
    (x, y), = list(dd.train_batches(6, torch.Generator().manual_seed(0)))
    for xi, yi in zip(x, y):
        orig = dd.normalise(torch.from_numpy(d.train_x[yi:yi + 1]))[0]
        assert torch.equal(xi, orig) or torch.equal(xi, orig.flip(2))
