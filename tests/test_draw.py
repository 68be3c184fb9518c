"""Genome pictures: DOT text with one cluster per block, a PNG of the distinct cells."""
import re

from nas import Genome
from nas.draw import to_dot
from tests.conftest import run_cli

GENOME = "configs/genomes/small_resnet.yaml"


def test_dot_has_every_node_and_edge():
    g = Genome.load(GENOME)
    dot = to_dot(g)
    assert dot.startswith('digraph "small_resnet"')
    assert len(re.findall(r"subgraph cluster_", dot)) == len(g.graph.blocks)
    n_edges = sum(len(n.inputs) for n in g.graph.nodes)
    assert dot.count(" -> ") == n_edges
    assert "conv c32 k3 s2" in dot  # layer2.0.conv1: 32 channels, 3×3, stride 2


def test_cli_show_writes_dot_and_png(tmp_path):
    dot, png = tmp_path / "g.dot", tmp_path / "g.png"
    r = run_cli("show", GENOME, "--dot", str(dot), "--draw", str(png))
    assert r.returncode == 0, r.stderr
    assert dot.read_text().count(" -> ") > 20
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert w >= 400 and h >= 300
    r = run_cli("show", GENOME, "--dot", str(tmp_path / "no" / "g.dot"))
    assert r.returncode == 2 and "directory does not exist" in r.stderr
