"""The study (benchmarks/study.py, benchmarks/study_protocol.py): classic points of the
spaces, the goal arithmetic, and the whole pipeline at toy budgets (``--tiny``) as a user runs
it."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas.store import ExperimentStore
from nas.errors import NasError
from search_spaces import get_space

ROOT = Path(__file__).resolve().parent.parent


def _load_study_protocol():
    """``benchmarks/study_protocol.py`` as the module ``study_protocol`` (as study.py imports
    it), loaded by path: putting ``benchmarks/`` on sys.path would let its ``controllers.py``
    shadow the ``controllers`` package."""
    if "study_protocol" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "study_protocol", ROOT / "benchmarks" / "study_protocol.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["study_protocol"] = module
        spec.loader.exec_module(module)
    return sys.modules["study_protocol"]


_load_study_protocol()
from study_protocol import (Protocol, SpacePlan, best_trial, classic_points, fewer,  # noqa: E402
                            found_architectures, median_trials, run_one_search, run_study,
                            trials_to_reach)


def test_blocks_classic_points_are_small_variants_in_the_default_space():
    space = get_space("blocks")
    points = {c.name: c for c in classic_points(space)}
    assert set(points) == {"resnet20-s", "resnet18-s", "resnet34-s", "resnet50-s",
                           "se_resnet50-s", "resnext50_32x4d-s", "wide_resnet50_2-s",
                           "mobilenet_v1-s", "mobilenet_v2-s"}
    for c in points.values():
        assert c.genome.input == (1, 8, 8) and c.genome.num_classes == 10
        assert space.decode(c.assignment).hash == c.genome.hash     # a point of the space
        assert c.reason                                              # the original is not
    # ResNet-20 differs from its variant only by the shortcut: encode_strict and the probe say so
    r20 = points["resnet20-s"]
    assert r20.changes == ["shortcut A → B (the space's)"]
    assert "layer2.0" in r20.reason and "--option shortcut=A" in r20.reason
    assert get_space("blocks", {"shortcut": "A"}).encode(
        __import__("search_spaces").get_net("resnet20", input=(1, 8, 8), num_classes=10))
    # the projection rule: first 3 stages, width multiplier, stride-1 stem, snapped choices
    r18 = points["resnet18-s"].assignment
    assert [r18[f"stage{j}.width"] for j in (1, 2, 3)] == [16, 32, 64]
    assert [r18[f"stage{j}.depth"] for j in (1, 2, 3)] == [2, 2, 2]
    assert r18["stem.type"] == "conv3x3" and r18["stem.width"] == 16
    mb2 = points["mobilenet_v2-s"]
    assert [mb2.assignment[f"stage{j}.width"] for j in (1, 2, 3)] == [16, 24, 32]
    assert [mb2.assignment[f"stage{j}.expansion"] for j in (1, 2, 3)] == [1, 6, 6]
    assert "head 1280 → 64" in mb2.changes and mb2.assignment["act"] == "relu6"
    assert "stage1 expansion 4 → 3" in points["resnet50-s"].changes
    # ResNet-34 with depths capped at 3 is ResNet-20's variant: marked, not evaluated twice
    assert points["resnet34-s"].same_as == "resnet20-s"
    assert sum(c.same_as is None for c in points.values()) == 8


def test_nasnet_classic_points():
    space = get_space("nasnet-cell")
    points = {c.name: c for c in classic_points(space)}
    a = points["nasnet_a"]
    assert a.assignment is None and "--option concat=choice" in a.reason
    assert get_space("nasnet-cell", {"concat": "choice"}).encode(a.genome) is not None
    plain = points["nasnet_a_unused"]
    assert plain.reason is None and space.decode(plain.assignment).hash == plain.genome.hash
    assert plain.genome.hash != a.genome.hash


def test_trials_to_reach_and_the_goal_arithmetic():
    curve = [0.5, 0.7, 0.7, 0.9]
    assert trials_to_reach(curve, 0.7) == 2 and trials_to_reach(curve, 0.9) == 4
    assert trials_to_reach(curve, 0.95) is None
    assert median_trials([3, None, 5]) == 5 and median_trials([None, None, 4]) is None
    assert fewer(3, 4) and not fewer(4, 4) and fewer(9, None) and not fewer(None, 3)
    trials = [{"hash": "a", "accuracy": 0.9, "flops": 100, "params": 1, "genome": {}},
              {"hash": "b", "accuracy": 0.95, "flops": 300, "params": 2, "genome": {}},
              {"hash": "c", "accuracy": 0.9, "flops": 50, "params": 3, "genome": {}},
              {"hash": "d", "accuracy": None, "flops": 10, "params": 4, "genome": {}}]
    assert best_trial(trials)["hash"] == "b"
    assert best_trial(trials, max_flops=200)["hash"] == "c"      # tie on accuracy: fewer FLOPs
    assert best_trial(trials, max_flops=20) is None
    found = found_architectures({"random": [{"trials": trials}],
                                 "evolution": [{"trials": trials[2:]}]}, cap=200)
    assert found["b"]["roles"] == ["random best"]
    assert found["c"]["roles"] == ["random best ≤ cap", "evolution best", "evolution best ≤ cap"]


def test_goal_two_reads_the_mean_best_so_far_curves():
    from study_protocol import controller_rows, mean_curve
    assert mean_curve([[0.5, 0.9], [0.7, 0.7, 0.8]]) == pytest.approx([0.6, 0.8, 0.85])
    searches = {"random": [{"seed": 0, "curve": [0.5, 0.6, 0.9, 0.9]},
                           {"seed": 1, "curve": [0.7, 0.7, 0.7, 0.8]}],
                "tpe": [{"seed": 0, "curve": [0.5, 0.8, 0.8, 0.8]},
                        {"seed": 1, "curve": [0.6, 0.9, 0.9, 0.9]}]}
    for runs in searches.values():
        for r in runs:
            r["wall_seconds"] = 1.0
    rows = controller_rows(searches, [])
    # random's mean curve ends at 0.85 (trial 4); tpe's mean is 0.85 from trial 2
    assert rows["random"]["reach_mean"] == 4 and rows["tpe"]["reach_mean"] == 2
    # per seed: tpe never reaches 0.9 on seed 0, reaches 0.8 at trial 2 on seed 1
    assert rows["tpe"]["reach"] == [None, 2] and rows["random"]["reach"] == [3, 4]
    assert rows["tpe"]["reach_median"] is None


def test_a_work_directory_is_continued_only_under_the_same_settings(tmp_path):
    (tmp_path / "budget.json").write_text(json.dumps(Protocol().budget()))
    with pytest.raises(NasError, match="another data protocol or budget"):
        run_study(Protocol(epochs=2), tmp_path, log=lambda m: None)
    # a search directory made with other controller options is not silently reused
    protocol = Protocol(controllers={"evolution": ("evolution", {"population": 10})})
    plan = SpacePlan("blocks", 5)
    root = tmp_path / "evolution-s0"
    ExperimentStore.create(root, protocol.config(space="blocks", controller="evolution",
                                                 trials=5)).close()
    with pytest.raises(NasError, match="other settings \\(controller_options\\)"):
        run_one_search(protocol, plan, "evolution", 0, root)


def _study(tmp_path, *extra):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study.py"), "--tiny",
                        "--work", str(tmp_path / "work"), "--out", str(out), *extra],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p, json.loads((out / "study.json").read_text())


def _without_times(x):
    if isinstance(x, dict):
        return {k: _without_times(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [_without_times(v) for v in x]
    return x


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path):
    p, res = _study(tmp_path)
    out = tmp_path / "out"
    s = res["spaces"]["blocks"]
    assert set(s["searches"]) == {"random", "optuna-tpe"}
    for label, runs in s["searches"].items():
        assert [r["seed"] for r in runs] == [0]
        curve = runs[0]["curve"]
        assert len(curve) == 3 and curve == sorted(curve) and 0 < curve[-1] <= 1
        assert runs[0]["counts"]["trained"] == 3 and runs[0]["wall_seconds"] > 0
        assert Path(runs[0]["dir"]).is_dir()
    # random reaches its own final best at the trial it found it
    rnd = s["controllers"]["random"]
    assert rnd["reach"][0] == s["searches"]["random"][0]["curve"].index(rnd["final_best"][0]) + 1
    classics = {c["name"]: c for c in s["classics"]}
    assert s["best_classic"] in classics and s["flops_cap"] == classics[s["best_classic"]]["flops"]
    for c in classics.values():
        if not c["same_as"]:
            assert 0 <= c["val"][0] <= 1 and 0 <= c["test"][0] <= 1 and c["flops"] > 0
    assert classics["resnet34-s"]["test"] == classics["resnet20-s"]["test"]   # one network
    roles = [r for x in s["retrained"] for r in x["roles"]]
    for label in s["searches"]:
        assert f"{label} best" in roles and f"{label} best ≤ cap" in roles
    for x in s["retrained"]:
        assert 0 <= x["test"][0] <= 1 and x["genome"]["input"] == [1, 8, 8]
        if any("≤ cap" in r for r in x["roles"]):
            assert x["flops"] <= s["flops_cap"]
    # the capped search trained only networks within the best classic's FLOPs, competes for
    # goal 1 (its best is retrained) and not for goal 2
    assert set(s["capped"]) == {"random-capped"} and "random-capped" not in s["controllers"]
    capped_pts = s["points"]["random-capped"]
    assert len(capped_pts) == 3 and all(f <= s["flops_cap"] for f, _ in capped_pts)
    assert "random-capped best" in roles
    g = s["goals"]
    assert set(g["faster_than_random"]) == {"optuna-tpe"}
    tpe, rnd_row = s["controllers"]["optuna-tpe"], s["controllers"]["random"]
    assert tpe["mean_curve"] == s["searches"]["optuna-tpe"][0]["curve"]     # one seed
    assert g["faster_than_random"]["optuna-tpe"]["met"] == (
        tpe["reach_mean"] is not None and tpe["reach_mean"] < rnd_row["reach_mean"])
    champ = g["beats_classic"]["champion"]
    assert champ["flops"] <= s["flops_cap"]
    assert g["beats_classic"]["met"] == (champ["test_mean"] > g["beats_classic"]["classic_test"][0])
    md = (out / "study.md").read_text()
    for text in ("## Protocol", "### Controllers", "### Classic points", "resnet20-s",
                 "--option shortcut=A", "goal 1", "goal 2 optuna-tpe",
                 "### FLOPs-capped searches", "| random-capped |"):
        assert text in md
    for name in ("progress-blocks.png", "pareto-blocks.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "goal 1" in p.stdout
    # a re-run continues the work directory: nothing is trained again (Ray is not even
    # started) and the numbers are the same
    dbs = sorted(str(d.relative_to(tmp_path)) for d in tmp_path.rglob("trials.db"))
    assert len(dbs) == 5                    # classics, 3 searches, retrain
    _, again = _study(tmp_path)
    assert sorted(str(d.relative_to(tmp_path)) for d in tmp_path.rglob("trials.db")) == dbs
    assert _without_times(again) == _without_times(res)
    # --only capped: the classic points and the capped searches run again (here: continued,
    # nothing to train) and merged into the finished study: the same numbers
    _, merged = _study(tmp_path, "--only", "capped")
    assert set(merged["parts_seconds"]) == {"capped"}
    assert _without_times(merged["spaces"]) == _without_times(res["spaces"])
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study.py"), "--tiny",
                          "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"),
                          "--only", "bogus"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "--only: expected some of capped, supernet" in bad.stderr


def test_a_work_directory_of_another_protocol_is_one_error_line(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "budget.json").write_text('{"dataset": "digits", "epochs": 99}')
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study.py"), "--tiny",
                        "--work", str(work), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert p.stderr.startswith("study: error: ") and "another data protocol" in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
