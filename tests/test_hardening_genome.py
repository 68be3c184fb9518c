"""Hostile or absurd genomes fail fast with one GenomeError/NasError naming the place:
bounded expressions, linear lowering with a size limit, a memory check before building, and
genome files that are binary, endless, deeply nested or not genomes at all."""
import json
import os

import pytest

from nas.builder import build
from nas.cli import main
from nas.cost import check_fits, cost
from nas.errors import GenomeError, NasError
from nas.expr import ExprError, evaluate
from nas.genome import MAX_NODES, Genome
from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(60)


def cli(capsys, *args):
    """``nas ARGS`` in this process: (exit code, stdout, stderr)."""
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(rc, err, *words):
    assert rc == 2, err
    assert err.startswith("nas: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err


def genome(out_ch=8, when=None, repeat=1, input=(3, 8, 8), **stage):
    node = {"name": "a", "op": "conv", "args": {"out_ch": out_ch, "kernel": 1}}
    if when is not None:
        node["when"] = when
    return {"name": "g", "input": list(input), "num_classes": 10,
            "stages": [{"name": "s", "repeat": repeat, "out_ch": 4,
                        "cell": {"nodes": [node, {"name": "r", "op": "relu"}]}, **stage}]}


# ----------------------------------------------------------------------------- expressions

HOSTILE = ["9**9**9", "2**64*2**64", "10**18*10**18", "(10**9)**(10**9)", "1e308*1e308",
           "C*" * 31 + "C", "(-8)**0.5", "1 << 99999", "99999 >> 1",
           "round(5, -10**17)", "max()", "int(1e300)", "ceil(1e300)", "1/0", "C % 0",
           "-" * 400 + "1", "1+" * 300 + "1", "max(" * 30 + "1" + ")" * 30, "x" * 600,
           "C if 9**9**9 else 1", "make_divisible(C, 0)", "__import__('os')", "C.real",
           "[C]*10**9", "'a'*10**9", "max(C, key=abs)"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_out_ch_is_one_error_naming_the_node(text):
    with pytest.raises(GenomeError) as e:
        Genome.from_dict(genome(out_ch=text))
    assert e.value.path == "s.0.a.out_ch", str(e.value)
    assert len(str(e.value)) < 300 and "\n" not in str(e.value)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text", ["9**9**9 > 1", "2**64 > 1", "10**18 * 10 > 1",
                                  "s != 1 or 9**9**9", "(1e308 * 10) > 1"])
def test_hostile_when_is_one_error_naming_the_node(text):
    with pytest.raises(GenomeError) as e:
        Genome.from_dict(genome(when=text))
    assert e.value.path == "s.0.a (when)", str(e.value)


def test_expressions_still_evaluate():
    env = {"C": 64, "cin": 32, "s": 1, "t": 6, "i": 0}
    assert evaluate("C*2", env) == 128
    assert evaluate("s != 1 or cin != C", env) is True
    assert evaluate("make_divisible(cin * 0.25, 8)", env) == 8
    assert evaluate("int(round(cin * t))", env) == 192
    assert evaluate("2**10 + C//4 - 10**18 // 10**17", env) == 1024 + 16 - 10
    assert evaluate("(s == 1) * 4", env) == 4
    assert evaluate("max(C, cin) if i == 0 else 1", env) == 64
    with pytest.raises(ExprError, match="exponent"):
        evaluate("2**65", env)
    with pytest.raises(ExprError, match="too large"):
        evaluate("2**63 * 2", env)


@pytest.mark.timeout(20)
def test_huge_stage_numbers_and_values_are_refused():
    for bad in ({"out_ch": 10 ** 40}, {"stride": 10 ** 40}, {"args": {"t": 10 ** 40}},
                {"args": {"t": float("nan")}}, {"block_name": "{i:>999999999}"},
                {"block_name": "{j}"}, {"block_name": "{i.__class__}"}):
        d = genome()
        d["stages"][0].update(bad)
        with pytest.raises(GenomeError) as e:
            Genome.from_dict(d)
        assert e.value.path.startswith("stages[0]"), str(e.value)
    for arg in ({"out_ch": 10 ** 40}, {"out_ch": float("inf")}, {"kernel": [[[[[1]]]]]}):
        d = genome()
        d["stages"][0]["cell"]["nodes"][0]["args"].update(arg)
        with pytest.raises(GenomeError, match="stages\\[0\\].cell.nodes\\[0\\].a"):
            Genome.from_dict(d)


@pytest.mark.timeout(20)
def test_op_arguments_that_crash_shape_inference_are_genome_errors():
    d = genome()
    d["stages"][0]["cell"]["nodes"][0]["args"]["stride"] = 0
    with pytest.raises(GenomeError, match=r"s.0.a: .*division by zero"):
        Genome.from_dict(d)
    # a feature map larger than any machine: refused in lowering, not in the cost model
    d = genome()
    d["stages"][0]["cell"]["nodes"][0]["args"]["padding"] = 10 ** 9
    with pytest.raises(GenomeError, match="s.0.a: output .* too large"):
        Genome.from_dict(d)
    with pytest.raises(GenomeError, match="input"):
        Genome.from_dict(genome(input=(3, 10 ** 9, 10 ** 9)))


# ----------------------------------------------------------------------------- size, linearity

@pytest.mark.timeout(20)
def test_absurd_repeat_is_refused_up_front_with_the_limit():
    with pytest.raises(GenomeError) as e:
        Genome.from_dict(genome(repeat=100_000))
    assert e.value.path == "s" and f"{MAX_NODES:,}" in str(e.value), str(e.value)
    with pytest.raises(GenomeError, match="limit"):
        Genome.from_dict(genome(repeat=10 ** 18))


@pytest.mark.timeout(120)
def test_long_chains_lower_linearly_in_any_node_order():
    n = 20_000
    fwd = [{"name": f"n{k}", "op": "relu"} for k in range(n)]
    g = Genome.from_dict({"input": [1, 2, 2], "stages": [{"name": "s", "cell": {"nodes": fwd}}]})
    assert len(g.graph.nodes) == n + 1 and cost(g).params == 0 and len(g.hash) == 32
    # listed backwards: the topological sort must not recurse once per node
    rev = [{"name": f"n{k}", "op": "relu", "inputs": [f"n{k + 1}" if k + 1 < n else "x"]}
           for k in range(n)]
    g = Genome.from_dict({"input": [1, 2, 2], "stages": [
        {"name": "s", "cell": {"nodes": rev, "output": "n0"}}]})
    assert g.graph.nodes[-1].path == "s.0.n0"
    rev[-1]["inputs"] = ["n0"]                                   # close the loop
    with pytest.raises(GenomeError, match="cycle: "):
        Genome.from_dict({"input": [1, 2, 2], "stages": [
            {"name": "s", "cell": {"nodes": rev, "output": "n0"}}]})


@pytest.mark.timeout(60)
def test_nas_show_of_a_huge_repeat_fails_fast(tmp_path, capsys):
    p = tmp_path / "huge.json"
    p.write_text(json.dumps(genome(repeat=100_000)))
    one_error_line(*cli(capsys, "show", str(p))[::2], "huge.json", "limit of 100,000")


# ----------------------------------------------------------------------------- memory

def test_check_fits_counts_parameters_gradients_and_activations():
    g = Genome.from_dict(genome(out_ch=16))
    params = cost(g).params
    check_fits(g, max_bytes=8 * params + 4 * (3 * 64 + 32 * 64))
    with pytest.raises(NasError, match="g: too large to build: .*limit of"):
        check_fits(g, max_bytes=8 * params)
    with pytest.raises(NasError, match="at batch 1000"):
        check_fits(g, max_bytes=10 ** 6, batch=1000)


@pytest.mark.timeout(30)
def test_build_refuses_what_cannot_fit_before_allocating():
    with pytest.raises(NasError, match="g: too large to build: 3,000,000,000 parameters"):
        build(Genome.from_dict(genome(out_ch=1_000_000_000)))
    from search_spaces import get_net
    with pytest.raises(NasError, match="resnet18: too large to build") as e:
        build(get_net("resnet18", num_classes=10_000_000_000))
    assert "\n" not in str(e.value)
    check_fits(get_net("vgg16"))                   # 138M parameters at 224² still build


@pytest.mark.timeout(120)
def test_cli_build_of_a_huge_layer_is_one_line(tmp_path):
    p = tmp_path / "wide.yaml"
    p.write_text("input: [3, 8, 8]\nstages:\n- name: s\n  cell:\n    nodes:\n"
                 "    - {name: a, op: conv, args: {out_ch: 1000000000}}\n")
    out = tmp_path / "m.pt"
    r = run_cli("build", str(p), "--out", str(out), timeout=120)
    one_error_line(r.returncode, r.stderr, "too large to build")
    assert not out.exists()


# ----------------------------------------------------------------------------- genome files

def _files(tmp_path):
    files = {
        "binary.json": os.urandom(2048) + b"\0",
        "latin1.yaml": "name: caf\xe9\n".encode("latin1"),
        "brackets.json": b"[" * 100_000 + b"]" * 100_000,
        "brackets.yaml": b"[" * 100_000 + b"]" * 100_000,
        "nested.json": (b'{"stages": ' + b"[" * 500 + b"]" * 500 + b"}"),
        "nested.yaml": "".join(" " * k + f"k{k}:\n" for k in range(3000)).encode() + b" x: 1\n",
        "list.yaml": b"- 1\n- 2\n",
        "scalar.json": b"42",
        "empty.yaml": b"",
        "bigint.json": b'{"num_classes": ' + b"9" * 5000 + b"}",
        "laughs.yaml": ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
            for p, c in zip("abcdefgh", "bcdefghi"))).encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "dir.json").mkdir()
    return sorted(files) + ["dir.json"]


@pytest.mark.timeout(60)
def test_bad_genome_files_are_one_error_naming_the_file(tmp_path):
    for name in _files(tmp_path):
        with pytest.raises(NasError) as e:
            Genome.load(tmp_path / name)
        msg = str(e.value)
        assert name in msg and "\n" not in msg and len(msg) < 400, (name, msg)


@pytest.mark.timeout(60)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_file_is_cut_at_the_size_limit():
    with pytest.raises(GenomeError, match="zero: file is larger than 64 MB"):
        Genome.load("/dev/zero")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["show", "hash", "build"])
def test_cli_bad_files_fail_with_one_line(tmp_path, capsys, command):
    for name in _files(tmp_path):
        rc, _, err = cli(capsys, command, str(tmp_path / name))
        one_error_line(rc, err, name)
    if os.path.exists("/dev/zero"):
        rc, _, err = cli(capsys, command, "/dev/zero")
        one_error_line(rc, err, "zero", "64 MB")


@pytest.mark.timeout(120)
def test_cli_as_typed_hostile_expression_and_binary_file(tmp_path):
    p = tmp_path / "pow.yaml"
    p.write_text("input: [3, 8, 8]\nstages:\n- name: s\n  out_ch: 4\n  cell:\n    nodes:\n"
                 "    - {name: a, op: conv, args: {out_ch: '9**9**9'}}\n")
    r = run_cli("hash", str(p), timeout=120)
    one_error_line(r.returncode, r.stderr, "pow.yaml:s.0.a.out_ch", "exponent")
    b = tmp_path / "blob.bin"
    b.write_bytes(bytes(range(256)) * 8)
    r = run_cli("show", str(b), timeout=120)
    one_error_line(r.returncode, r.stderr, "blob.bin", "not a text file")


def test_from_text_and_dict_apis_refuse_the_same(tmp_path):
    with pytest.raises(GenomeError, match="nested too deeply|nesting"):
        Genome.from_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(GenomeError, match="bad YAML"):
        Genome.from_yaml("[" * 100_000 + "]" * 100_000)
    loop: list = []
    loop.append(loop)
    with pytest.raises(GenomeError, match="nested more than"):
        Genome.from_dict({"stages": loop})
    with pytest.raises(GenomeError, match="must be an object"):
        Genome.from_dict([1, 2])
    with pytest.raises(GenomeError, match="text"):
        Genome.from_json(b"{}")
