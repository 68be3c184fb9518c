"""Genome IR: exact round trips and one precise GenomeError per kind of fault."""
import json

import pytest

from nas import Cell, Genome, GenomeError, Node, Stage
from search_spaces import get_net

EXAMPLE = "configs/genomes/small_resnet.yaml"


def chain(*nodes, inputs=("x",)):
    return Cell(nodes=tuple(nodes), inputs=inputs)


def net(cell, input=(3, 8, 8), **kw):
    return Genome("t", stages=(Stage("s", cell, **kw),), input=input, num_classes=10)


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "vgg11_bn"])
def test_json_and_yaml_round_trip_exactly(name):
    g = get_net(name, num_classes=10)
    assert Genome.from_json(g.to_json()) == g
    assert Genome.from_yaml(g.to_yaml()) == g
    assert Genome.from_json(g.to_json()).to_dict() == g.to_dict()
    assert Genome.from_json(g.to_json()).hash == g.hash


def test_example_file_loads_and_round_trips(tmp_path):
    g = Genome.load(EXAMPLE)
    assert g.name == "small_resnet" and g.input == (1, 8, 8)
    for suffix in (".json", ".yaml"):
        p = g.save(tmp_path / f"g{suffix}")
        assert Genome.load(p) == g
    # the projection shortcut exists only where the shape changes (when: s != 1 or cin != C)
    paths = [n.path for n in g.graph.nodes]
    assert "layer2.0.downsample.0" in paths and "layer2.1.downsample.0" not in paths
    assert "layer1.0.downsample.0" not in paths


def test_shape_inference_and_expressions():
    cell = chain(Node("a", "conv", args={"out_ch": "C//2", "kernel": 3, "stride": "s"}),
                 Node("b", "conv", args={"out_ch": "C"}))
    g = net(cell, out_ch=16, stride=2, repeat=2)
    shapes = {n.path: n.shape for n in g.graph.nodes}
    assert shapes["s.0.a"] == (8, 4, 4) and shapes["s.0.b"] == (16, 4, 4)
    assert shapes["s.1.a"] == (8, 4, 4)  # stride only in the first repeat


def test_dead_nodes_are_pruned():
    cell = chain(Node("a", "conv", args={"out_ch": 4}), Node("dead", "conv", ("x",), {"out_ch": 5}),
                 Node("out", "relu", ("a",)))
    g = net(cell)
    assert [n.path for n in g.graph.nodes] == ["input", "s.0.a", "s.0.out"]


@pytest.mark.parametrize("make, path, words", [
    (lambda: Node("a", "convv"), "a", "unknown op 'convv'"),
    (lambda: Node("a", "conv", args={"out_ch": 3, "kernal": 3}), "a", "unknown parameter 'kernal'"),
    (lambda: net(chain(Node("a", "conv", args={"out_ch": 4}), Node("b", "conv", ("x",), {"out_ch": 5}),
                       Node("c", "add", ("a", "b")))), "s.0.c", "add needs inputs of one shape"),
    (lambda: chain(Node("a", "relu", ("b",)), Node("b", "relu", ("a",))), "cycle", "cycle"),
    (lambda: chain(Node("a", "relu", ("nothere",))), "a", "input 'nothere' is not a node or slot"),
    (lambda: net(chain(Node("a", "conv", args={"out_ch": 4, "kernel": 5, "padding": 0}),
                       Node("b", "conv", args={"out_ch": 4, "kernel": 5, "padding": 0}))),
     "s.0.b", "spatial size shrinks to zero"),
    (lambda: net(chain(Node("a", "conv", args={"out_ch": "C*2"}))), "s.0.a.out_ch", "unknown name 'C'"),
    (lambda: net(chain(Node("a", "conv", args={"out_ch": 2.5}))), "s.0.a", "must be int"),
    (lambda: net(chain(Node("a", "conv", args={"out_ch": 4, "groups": 3}))), "s.0.a", "groups=3"),
    (lambda: net(chain(Node("a", "linear", args={"out_ch": 4}))), "s.0.a", "put a flatten before it"),
    (lambda: net(chain(Node("a", "maxpool", args={"kernel": 2}))).with_input((3, 0, 8)), "input",
     "positive integers"),
])
def test_invalid_genomes_raise_one_precise_error(make, path, words):
    with pytest.raises(GenomeError) as e:
        make()
    assert path in str(e.value) and words in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_lowering_memo_never_lets_a_wrong_kind_through():
    """Lowering memoises op/argument/shape checks; 1, 1.0 and True are equal as dict keys,
    so the memo must still reject what a fresh check rejects."""
    ok = net(chain(Node("a", "conv", args={"out_ch": 1, "kernel": 1, "bias": True})))
    assert ok.graph.nodes[1].args["out_ch"] == 1 and ok.graph.nodes[1].args["bias"] is True
    with pytest.raises(GenomeError, match="out_ch' must be int"):
        net(chain(Node("a", "conv", args={"out_ch": True, "kernel": 1, "bias": True})))
    with pytest.raises(GenomeError, match="bias' must be bool"):
        net(chain(Node("a", "conv", args={"out_ch": 1, "kernel": 1, "bias": 1})))
    again = net(chain(Node("a", "conv", args={"out_ch": 1.0, "kernel": 1, "bias": True})))
    assert type(again.graph.nodes[1].args["out_ch"]) is int and again.hash == ok.hash


@pytest.mark.parametrize("doc, words", [
    ({"name": "x", "stages": "nope"}, "stages: stages must be list"),
    ({"name": "x", "stages": [{"name": "s", "cell": {"nodes": [{"name": "a", "op": "conv",
                                                              "args": {"out_ch": [1, {}]}}]}}]},
     "expected a number"),
    ({"name": "x", "stages": [{"name": "s", "repeat": "two", "cell": {"nodes": [
        {"name": "a", "op": "relu"}]}}]}, "stages[0]: repeat must be an integer"),
    ({"name": "x", "stages": [{"name": "s", "cell": "missing"}]}, "unknown cell 'missing'"),
    ({"name": "x", "stagez": []}, "unknown field(s) stagez"),
    ({"name": "x", "stages": [{"name": "s", "cell": {"nodes": [{"name": "a", "op": "relu",
                                                              "bogus": 1}]}}]},
     "stages[0].cell.nodes[0]: unknown field(s) bogus"),
])
def test_bad_json_types_name_the_field(doc, words):
    with pytest.raises(GenomeError) as e:
        Genome.from_json(json.dumps(doc))
    assert words in str(e.value), str(e.value)


def test_bad_json_syntax_names_line():
    with pytest.raises(GenomeError, match="bad JSON at line 1"):
        Genome.from_json("{nope")


def test_name_clashes_are_errors():
    with pytest.raises(GenomeError, match="two layers have this name"):
        Genome("t", stages=(Stage("", chain(Node("a", "conv", args={"out_ch": 4})), block_name=""),
                            Stage("", chain(Node("a", "conv", args={"out_ch": 4})), block_name="")),
               input=(3, 8, 8))


def test_genomes_are_frozen_and_hashable():
    g = get_net("alexnet")
    with pytest.raises(Exception):
        g.name = "other"  # type: ignore[misc]
    assert len({g, get_net("alexnet")}) == 1
