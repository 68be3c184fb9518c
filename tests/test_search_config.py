"""The experiment config: YAML loading, validation messages, the shipped configs."""
from pathlib import Path

import pytest

from nas.config import Budget, Recipe, SearchConfig
from nas.errors import NasError

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


def test_defaults_budget_and_recipe():
    c = SearchConfig()
    assert (c.space, c.controller, c.trials, c.data.dataset, c.execution.workers) == (
        "nasnet-cell", "random", 8, "digits", None)
    assert c.budget == Budget(epochs=4) and c.recipe == Recipe()
    r = c.replace(lr=0.2, optimizer="adamw", steps=10).recipe
    assert r.lr == 0.2 and r.optimizer == "adamw"
    assert c.replace(steps=10).budget == Budget(epochs=4, steps=10)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    c = SearchConfig.load(path)
    assert c.trials >= 1
    if c.nets:
        from search_spaces import NETS
        assert all(n in NETS for n in c.nets)
    else:
        from controllers import CONTROLLERS
        from search_spaces import SPACES
        assert c.space in SPACES and c.controller in CONTROLLERS


def test_shipped_configs_cover_the_documented_uses():
    names = {p.name for p in CONFIGS}
    assert {"digits-quick.yaml", "nasnet-cifar10-gpu.yaml", "blocks-flops.yaml",
            "sweep-classic.yaml"} <= names
    gpu = SearchConfig.load(CONFIGS[0].parent / "nasnet-cifar10-gpu.yaml")
    assert (gpu.execution.gpus_per_trial, gpu.execution.scheduler, gpu.data.dataset) == (0.25, "asha", "cifar10")
    flops = SearchConfig.load(CONFIGS[0].parent / "blocks-flops.yaml")
    assert flops.constraints == {"max_flops": 500000} and flops.reward["name"] == "mnas"


@pytest.mark.parametrize("text,message", [
    ("trails: 3", "unknown key 'trails' (did you mean 'trials'?)"),
    ("epochs: four", "epochs: expected int or null, got 'four'"),
    ("workers: 1.5", "workers: expected int or null, got 1.5"),
    ("amp: 1", "amp: expected bool, got 1"),
    ("dataset: imagenet", "dataset: must be one of digits"),
    ("epochs: null", "budget: set at least one of epochs, steps, seconds"),
    ("scheduler: hyperband", "scheduler: must be fifo or asha"),
    ("grid: {space: [a]}", "grid: 'space' cannot vary"),
    ("grid: {lr: 0.1}", "grid.lr: expected a non-empty list"),
    ("input: 3by32\ndataset: synthetic", "input '3by32': expected CxHxW"),
    ("input: 3x32x32", "input: sets the image size of the synthetic and folder data sets"),
    ("- a list", "expected a mapping of keys to values, got list"),
    ("space: [unclosed", "bad YAML at line 2 column 1"),
])
def test_bad_config_files_name_file_and_key(tmp_path, text, message):
    p = tmp_path / "c.yaml"
    p.write_text(text + "\n")
    with pytest.raises(NasError) as e:
        SearchConfig.load(p)
    assert message in str(e.value) and str(p) in str(e.value)


def test_lists_from_strings_and_round_trip(tmp_path):
    c = SearchConfig(init="a,b", nets=("resnet18",))
    assert c.init == ["a", "b"] and c.nets == ["resnet18"]
    c2 = SearchConfig.load(c.save(tmp_path / "c.yaml"))
    assert c2 == c
    with pytest.raises(NasError, match=r"unknown key 'bogus'"):
        c.replace(bogus=1)
