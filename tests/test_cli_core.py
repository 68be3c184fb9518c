"""The core CLI as a user types it: --help, --version, show, hash, build, bad input."""
import json

import pytest

from tests.conftest import run_cli


def test_help_and_version():
    r = run_cli("--help")
    assert r.returncode == 0 and "show" in r.stdout and "build" in r.stdout
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("nas 0.")


def test_show_alexnet_table_and_json():
    r = run_cli("show", "alexnet", "--input", "3x227x227")
    assert r.returncode == 0, r.stderr
    assert "64×56×56" in r.stdout and "784" in r.stdout and "61,100,840" in r.stdout
    r = run_cli("show", "alexnet", "--input", "3x227x227", "--json")
    d = json.loads(r.stdout)
    conv1 = d["layers"][0]
    assert conv1 == {"name": "features.0", "op": "conv", "out": [64, 56, 56], "memory_kb": 784.0,
                     "params": 23296, "flops": 72_855_552, "macs": 72_855_552}
    assert d["total"]["params"] == 61_100_840 and 0.70e9 < d["total"]["flops"] < 0.73e9
    assert set(d["total"]) >= {"params", "flops", "memory_kb"}


def test_show_vgg16_default_input():
    d = json.loads(run_cli("show", "vgg16", "--json").stdout)
    assert d["input"] == [3, 224, 224] and d["total"]["params"] == 138_357_544
    d10 = json.loads(run_cli("show", "vgg16", "--classes", "10", "--json").stdout)
    assert d10["total"]["params"] == 138_357_544 - 4096 * 990 - 990


def test_hash_and_build_print_code(tmp_path):
    a = run_cli("hash", "configs/genomes/small_resnet.yaml")
    assert a.returncode == 0 and len(a.stdout.strip()) == 32
    r = run_cli("build", "configs/genomes/small_resnet.yaml", "--print-code")
    assert r.returncode == 0 and "def forward(self, x):" in r.stdout
    out = tmp_path / "m.pt"
    r = run_cli("build", "alexnet", "--classes", "10", "--out", str(out))
    assert r.returncode == 0 and out.exists()
    import torch
    ck = torch.load(out)
    assert ck["genome"]["name"] == "alexnet" and "classifier.6.weight" in ck["state_dict"]


BAD = {
    "bad.json": ("{\"name\": \"x\", \"stages\": [", "bad JSON at line 1"),
    "unknown.yaml": ("stages:\n- name: s\n  cell: {nodes: [{name: a, op: convv}]}\n",
                     "stages[0].cell.nodes[0].a: unknown op 'convv'"),
    "mismatch.yaml": ("input: [3, 8, 8]\nstages:\n- name: s\n  cell:\n    nodes:\n"
                      "    - {name: a, op: conv, args: {out_ch: 4}}\n"
                      "    - {name: b, op: conv, inputs: [x], args: {out_ch: 5}}\n"
                      "    - {name: c, op: add, inputs: [a, b]}\n", "s.0.c: add needs inputs of one shape"),
    "cycle.yaml": ("stages:\n- name: s\n  cell:\n    nodes:\n"
                   "    - {name: a, op: relu, inputs: [b]}\n    - {name: b, op: relu, inputs: [a]}\n",
                   "cycle: "),
}


@pytest.mark.parametrize("fname", sorted(BAD))
def test_malformed_genome_files_fail_with_one_line(tmp_path, fname):
    text, words = BAD[fname]
    p = tmp_path / fname
    p.write_text(text)
    r = run_cli("show", str(p))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert words in r.stderr and fname in r.stderr, r.stderr


@pytest.mark.parametrize("args, words", [
    (("show", "resnet999"), "unknown net 'resnet999'"),
    (("show", "alexnet", "--input", "3by3"), "--input '3by3'"),
    (("show", "missing.json"), "no genome file 'missing.json'"),
    (("export", "runs/no-such-search", "--format", "pt", "--out", "x.pt"),
     "no experiment directory or genome file 'runs/no-such-search'"),
    (("show", "alexnet", "--input", "3x8x8"), "spatial size shrinks to zero"),
])
def test_bad_arguments_fail_with_one_line(args, words):
    r = run_cli(*args)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
