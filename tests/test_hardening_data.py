"""Data files are read without running anything in them: a CIFAR pickle with a ``__reduce__``
payload is refused (one NasError naming the file, the payload never runs); legitimate pickles
of every protocol still load; MNIST's IDX files, Pillow's formats and sizes are checked."""
import builtins
import os
import pickle
import struct

import numpy as np
import pytest

from evaluators.datasets import load_dataset
from nas.errors import NasError
from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(60)


class Payload:
    """Unpickling this runs ``os.system(cmd)`` with an unrestricted unpickler."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return os.system, (self.cmd,)


class EvalPayload:
    def __reduce__(self):
        return builtins.eval, ("__import__('os').system('true')",)


class HugeArray:
    def __reduce__(self):
        return np.ndarray, ((1 << 20, 1 << 20),)


class HugeBytes:
    def __reduce__(self):
        return bytes, (1 << 40,)


def write_cifar10(root, n=4, protocol=pickle.DEFAULT_PROTOCOL, bytes_keys=False):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        d = {"data": x, "labels": [int(v) for v in rng.integers(0, 10, n)],
             "filenames": [f"{k}.png" for k in range(n)], "batch_label": name}
        if bytes_keys:
            d = {k.encode(): v for k, v in d.items()}
        with open(base / name, "wb") as f:
            pickle.dump(d, f, protocol=protocol)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{k}" for k in range(10)]}, f, protocol=protocol)
    return base


@pytest.mark.parametrize("target", ["data_batch_1", "batches.meta", "test_batch"])
def test_reduce_payload_in_a_cifar_file_is_refused_and_never_runs(tmp_path, target):
    base = write_cifar10(tmp_path)
    marker = tmp_path / "PWNED"
    with open(base / target, "wb") as f:
        pickle.dump({"data": Payload(f"touch {marker}"), "labels": [0]}, f)
    with pytest.raises(NasError) as e:
        load_dataset("cifar10", tmp_path, test=True)
    msg = str(e.value)
    assert "refusing to unpickle os.system" in msg and target in msg and "\n" not in msg, msg
    assert not marker.exists()


@pytest.mark.parametrize("payload, words", [
    (EvalPayload(), "builtins.eval"), (HugeArray(), "numpy.ndarray"),
    (HugeBytes(), "builtins.bytes of a size"),
    # numpy's own unpickling of object arrays can crash the process: never handed to numpy
    (np.array([1, "a"], dtype=object), "numpy dtype 'O8'"),
    (np.zeros(2, [("a", "u1"), ("b", "f4")]), "numpy dtype 'V5' with fields")])
def test_other_callables_are_refused(tmp_path, payload, words):
    base = write_cifar10(tmp_path)
    with open(base / "data_batch_2", "wb") as f:
        pickle.dump({"data": payload, "labels": [0]}, f)
    with pytest.raises(NasError, match=f"refusing to unpickle {words}.*data_batch_2"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_legitimate_pickles_of_every_protocol_load(tmp_path, protocol):
    write_cifar10(tmp_path, protocol=protocol, bytes_keys=protocol == 2)
    d = load_dataset("cifar10", tmp_path, test=True)
    assert d.shape == (3, 32, 32) and len(d.train_y) == 20 and len(d.eval_y) == 4


def test_python2_module_names_are_understood(tmp_path):
    base = write_cifar10(tmp_path, protocol=2)
    raw = (base / "data_batch_1").read_bytes()           # as CIFAR's original files name them
    (base / "data_batch_1").write_bytes(raw.replace(b"numpy._core.multiarray",
                                                    b"numpy.core.multiarray"))
    assert len(load_dataset("cifar10", tmp_path, test=True).train_y) == 20


def test_cifar_contents_are_checked(tmp_path):
    base = write_cifar10(tmp_path)
    with open(base / "data_batch_4", "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, f)
    with pytest.raises(NasError, match=r"data_batch_4 is not a CIFAR batch: labels must lie in"):
        load_dataset("cifar10", tmp_path)
    with open(base / "data_batch_4", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(NasError, match="data_batch_4 is not a CIFAR batch: expected a dict"):
        load_dataset("cifar10", tmp_path)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"names": []}, f)
    with pytest.raises(NasError, match="batches.meta is not a CIFAR meta file"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.timeout(300)
def test_cli_train_refuses_the_payload_in_one_line(tmp_path):
    base = write_cifar10(tmp_path)
    marker = tmp_path / "PWNED"
    with open(base / "data_batch_1", "wb") as f:
        pickle.dump({"data": Payload(f"touch {marker}"), "labels": [0]}, f)
    r = run_cli("train", "configs/genomes/small_resnet.yaml", "--dataset", "cifar10",
                "--data-dir", str(tmp_path), "--steps", "1", "--device", "cpu", timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("nas: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "refusing to unpickle os.system" in r.stderr and "data_batch_1" in r.stderr
    assert not marker.exists()


# ----------------------------------------------------------------------------- MNIST, folder

def _idx(path, magic, dims, data=b""):
    path.write_bytes(struct.pack(f">I{len(dims)}I", magic, *dims) + data)


def test_mnist_never_loads_processed_torch_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    x = np.arange(3 * 28 * 28, dtype=np.uint8)
    _idx(raw / "train-images-idx3-ubyte", 0x803, (3, 28, 28), x.tobytes())
    _idx(raw / "train-labels-idx1-ubyte", 0x801, (3,), bytes([1, 2, 3]))
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    marker = tmp_path / "PWNED"
    for name in ("training.pt", "test.pt"):                 # torchvision's legacy files
        with open(processed / name, "wb") as f:
            pickle.dump(Payload(f"touch {marker}"), f)
    d = load_dataset("mnist", tmp_path, val_fraction=0.34)
    assert d.shape == (1, 28, 28) and sorted(np.concatenate([d.train_y, d.eval_y])) == [1, 2, 3]
    assert not marker.exists()


@pytest.mark.parametrize("images, words", [
    ((0x801, (3, 28, 28), b""), "expected magic 0x00000803"),
    ((0x803, (3, 28, 28), b"\0" * 10), "header says 3×28×28"),
    ((0x803, (1 << 31, 1 << 16, 1 << 16), b""), "header says"),   # 2^63 bytes: not allocated
])
def test_mnist_bad_idx_files_are_one_error(tmp_path, images, words):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _idx(raw / "train-images-idx3-ubyte", *images)
    _idx(raw / "train-labels-idx1-ubyte", 0x801, (3,), bytes([1, 2, 3]))
    with pytest.raises(NasError, match=f"mnist: .*train-images-idx3-ubyte.*{words}"):
        load_dataset("mnist", tmp_path)


def test_folder_opens_only_raster_formats(tmp_path):
    from PIL import Image
    for split in ("train",):
        for c in ("a", "b"):
            (tmp_path / split / c).mkdir(parents=True)
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / split / c / "0.png")
    # a PostScript file named .png: Pillow would hand it to Ghostscript; it must not be opened
    (tmp_path / "train" / "b" / "1.png").write_bytes(
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4 4\nshowpage\n")
    with pytest.raises(NasError, match=r"folder: cannot read image .*1\.png"):
        load_dataset("folder", tmp_path, input=(3, 4, 4))
