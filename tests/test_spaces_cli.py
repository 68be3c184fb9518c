"""`nas spaces`, `nas sample`, `nas encode` as a user types them, including bad input."""
import json

import pytest

from nas import cost
from search_spaces import get_space
from search_spaces.nasnet import nasnet_a_specs
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def nas(tmp_path_factory):
    env = {"NAS_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "nas-cache")}
    return lambda *args: run_cli(*args, env=env)


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def fails(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nas: error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_spaces_lists_every_space(nas):
    rows = {r["name"]: r for r in json.loads(ok(nas("spaces", "--json")))}
    assert set(rows) >= {"nasnet-cell", "blocks", "exhaustive"}
    assert rows["nasnet-cell"]["decisions"] == 50
    assert rows["nasnet-cell"]["size"] == (720 ** 2 * 338 ** 5) ** 2
    assert rows["nasnet-cell"]["distinct"] is None
    assert (rows["exhaustive"]["size"], rows["exhaustive"]["distinct"]) == (15625, 6269)
    assert rows["blocks"]["decisions"] == 23
    table = ok(nas("spaces"))
    assert "nasnet-cell" in table and "15,625" in table and "6,269" in table


def test_spaces_describes_one_space(nas):
    out = ok(nas("spaces", "nasnet-cell", "--option", "concat=choice"))
    assert "62 decisions" in out and "fixed points: nasnet_a" in out
    assert "normal.block4.input_a: h[i-1], h[i-2], block0, block1, block2, block3" in out
    d = json.loads(ok(nas("spaces", "blocks", "-o", "preset=cifar", "--json")))
    assert d["fixed_points"] == {"resnet20": get_space("blocks", {"preset": "cifar"})
                                 .fixed_points()["resnet20"].hash}
    assert d["options"]["widths"] == [16, 32, 64, 128]


def test_sample_prints_assignment_hash_params_flops(nas, tmp_path):
    rows = json.loads(ok(nas("sample", "--space", "exhaustive", "--n", "4", "--seed", "3",
                             "--json", "--save", str(tmp_path))))
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    space = get_space("exhaustive")
    for r in rows:
        g = space.decode(r["assignment"])
        assert (r["hash"], r["params"], r["flops"]) == (g.hash, cost(g).params, cost(g).flops)
        assert (tmp_path / f"{r['hash']}.json").exists()
    again = json.loads(ok(nas("sample", "--space", "exhaustive", "--n", "4", "--seed", "3",
                              "--json")))
    assert [r["hash"] for r in again] == [r["hash"] for r in rows]
    other = json.loads(ok(nas("sample", "--space", "exhaustive", "--n", "4", "--seed", "4",
                              "--json")))
    assert [r["hash"] for r in other] != [r["hash"] for r in rows]
    # a saved sample encodes back to its assignment's network
    enc = json.loads(ok(nas("encode", "--space", "exhaustive", str(tmp_path / f"{rows[0]['hash']}"
                                                                     ".json"), "--json")))
    assert space.decode(enc["assignment"]).hash == rows[0]["hash"] == enc["hash"]


def test_sample_table_with_options(nas):
    out = ok(nas("sample", "--space", "nasnet-cell", "--option", "N=1", "--n", "2"))
    assert "2 samples of nasnet-cell" in out and "h[i-" in out  # labels are not eaten as markup


def test_encode_nasnet_a(nas):
    out = json.loads(ok(nas("encode", "--space", "nasnet-cell", "--option", "preset=mobile",
                            "nasnet_a_mobile", "--json")))
    space = get_space("nasnet-cell", {"preset": "mobile"})
    assert out["assignment"] == space.assignment_of(nasnet_a_specs())
    text = ok(nas("encode", "--space", "blocks", "-o", "preset=imagenet", "resnet50"))
    assert "stage3.depth" in text and "bottleneck" in text


def test_encode_not_in_space(nas):
    fails(nas("encode", "--space", "blocks", "resnet50"),
          "not in this space: option input", "(it is in --option preset=imagenet)")
    fails(nas("encode", "--space", "nasnet-cell", "nasnet_a_mobile"),
          "not in this space", "--option preset=mobile")
    fails(nas("encode", "--space", "blocks", "-o", "preset=imagenet", "densenet121"),
          "not in this space: stage1:", "denselayer1")
    fails(nas("encode", "--space", "exhaustive", "-o", "preset=nb201", "resnet20"),
          "not in this space: stages")


@pytest.mark.parametrize("args,needles", [
    (("sample", "--space", "nasnet"), ("unknown space 'nasnet'", "nasnet-cell")),
    (("sample", "--space", "blocks", "--option", "depth=3"), ("unknown option(s) depth",)),
    (("sample", "--space", "blocks", "--option", "widths"), ("expected NAME=VALUE",)),
    (("sample", "--space", "nasnet-cell", "-o", "N=many"), ("option 'N': expected an integer",)),
    (("sample", "--space", "exhaustive", "--n", "0"), ("--n must be ≥ 1",)),
    (("encode", "--space", "blocks", "no_such_net"), ("unknown net 'no_such_net'",)),
    (("encode", "--space", "blocks", "missing.json"), ("no genome file 'missing.json'",)),
    (("spaces", "--option", "N=1"), ("needs a space NAME",)),
])
def test_bad_input_is_one_line(nas, args, needles):
    fails(nas(*args), *needles)
