"""After a search: the trained weights of the best K trials are kept, `nas export DIR` ships the
best one's (its accuracy on the validation split is the stored one), `nas train DIR
--init-from-search` starts from them, and a kill / --resume never leaves files the store does
not vouch for. (Weights from Ray trials: tests/test_report.py, whose search runs on Ray.)"""
import re

import pytest

from nas.store import ExperimentStore
from tests.conftest import run_cli
from tests.helpers import val_accuracy as _val_accuracy

SEARCH = ("search", "--space", "exhaustive", "--epochs", "1", "--executor", "local",
          "--quiet", "--cpus-per-trial", "1")


def _store(root):
    return ExperimentStore.open(root)


def _kept(root) -> tuple[set, set]:
    """(weights files present, files of the top-K trials by the store)."""
    s = _store(root)
    try:
        k = s.config().keep_weights
        top = {f"trial-{r.number}.pt" for r in s.leaderboard(k)}
    finally:
        s.close()
    d = root / "weights"
    return {f.name for f in d.iterdir()} if d.is_dir() else set(), top


def nas(capsys, *argv):
    """``nas ARGV`` in this process (the installed command's parser and error handling; the
    heavy imports paid once): (exit code, stdout, stderr)."""
    from nas.cli import main
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _export(capsys, root, out):
    code, stdout, err = nas(capsys, "export", root, "--format", "pt", "--out", out)
    assert code == 0, err
    return stdout


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("w") / "exp"
    r = run_cli(*SEARCH, "--trials", "4", "--keep-weights", "2", "--out", str(root))
    assert r.returncode == 0, r.stderr
    return root


def test_export_ships_the_best_trials_weights_with_its_accuracy(searched, tmp_path, capsys):
    present, top = _kept(searched)
    assert present == top and len(top) == 2               # top-K pruning: exactly the 2 best
    s = _store(searched)
    best = s.best()
    s.close()
    out = _export(capsys, searched, tmp_path / "best.pt")
    m = re.search(r"\(trained weights of trial (\d+), val acc ([0-9.]+)\)", out)
    assert m and int(m.group(1)) == best.number, out
    acc = _val_accuracy(searched, tmp_path / "best.pt")
    assert abs(acc - best.accuracy) <= 1e-6, (acc, best.accuracy)
    # the network is the trained one: far above chance (10 classes) and above an untrained one
    assert acc > 0.3


def test_train_init_from_search_starts_from_the_kept_weights(searched, capsys):
    code, out, err = nas(capsys, "train", searched, "--init-from-search", "--steps", "1",
                         "--lr", "1e-9", "--json", "--threads", "1")
    assert code == 0, err
    assert "from the trained weights of trial" in err
    import json
    s = _store(searched)
    best = s.best().accuracy
    s.close()
    # one step at lr 1e-9: the BN statistics move a little, the accuracy stays the search's
    # (from a random initialisation it would be near chance, 0.1)
    assert abs(json.loads(out)["metrics"]["accuracy"] - best) <= 0.05
    code, _, err = nas(capsys, "train", "alexnet", "--init-from-search")
    assert code == 2 and "needs an experiment directory" in err


def test_kill_and_resume_keep_files_consistent_with_the_store(tmp_path, capsys):
    root = tmp_path / "exp"
    # the driver dies (os._exit) inside trial 3's evaluation: trial 3 stays `running`
    r = run_cli(*SEARCH, "--trials", "3", "--keep-weights", "2", "--out", str(root),
                env={"NAS_FAULT": "exit@3"})
    assert r.returncode != 0
    w = root / "weights"
    # as if the kill had come between the weights write and the row: a file for the running
    # trial (garbage), a half-written temp file, and a file of a trial out of the top K
    (w / "trial-3.pt").write_bytes(b"garbage")
    (w / "trial-9.pt.tmp").write_bytes(b"half")
    (w / "trial-77.pt").write_bytes(b"stale")
    code, _, err = nas(capsys, "search", "--resume", root, "--quiet")
    assert code == 0, err
    present, top = _kept(root)
    assert present == top and len(top) == 2
    acc = _val_accuracy(root, tmp_path / "b.pt") if "trained weights" in _export(
        capsys, root, tmp_path / "b.pt") else None
    s = _store(root)
    best = s.best()
    s.close()
    assert acc is not None and abs(acc - best.accuracy) <= 1e-6
    # a missing file only means "untrained"
    for f in w.iterdir():
        f.unlink()
    assert "(untrained weights)" in _export(capsys, root, tmp_path / "c.pt")


def test_keep_weights_zero_keeps_nothing(tmp_path, capsys):
    root = tmp_path / "none"
    code, _, err = nas(capsys, *SEARCH, "--trials", "2", "--keep-weights", "0", "--out", root)
    assert code == 0, err
    assert not (root / "weights").exists() or not any((root / "weights").iterdir())
    assert "(untrained weights)" in _export(capsys, root, tmp_path / "n.pt")
    code, _, err = nas(capsys, "train", root, "--init-from-search")
    assert code == 2 and "kept no trained weights of its best trial" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = nas(capsys, *SEARCH, "--keep-weights", "-1", "--out", tmp_path / "x")
    assert code == 2 and err == "nas: error: keep_weights: must be ≥ 0 (0: keep no weights), " \
        "got -1\n"

