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


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_nasnet_space_describes_nasnet_a_cells_as_in_the_paper():
    """Zoph et al. 2018 fig. 4: the normal cell's blocks, all combined by add."""
    from nas.experiment import cell_diagrams
    from search_spaces.nasnet import nasnet_a_mobile
    normal, reduction = cell_diagrams(nasnet_a_mobile())
    assert (normal.name, reduction.name) == ("normal", "reduction")
    assert [b.ops for b in normal.blocks] == [
        ("sep_conv5x5", "sep_conv3x3"), ("sep_conv5x5", "sep_conv3x3"),
        ("avg_pool3x3", "identity"), ("avg_pool3x3", "avg_pool3x3"),
        ("sep_conv3x3", "identity")]
    assert {b.combine for b in normal.blocks} == {"add"}
    assert normal.output == ("h[i-2]", "block0", "block1", "block2", "block3", "block4")
    assert reduction.blocks[3].inputs == ("block1", "block0")     # reads earlier blocks
    assert "stride 2" in reduction.note
    # spaces without a cell reading: None, the op graph is drawn
    assert cell_diagrams(Genome.load(GENOME)) is None


def test_cell_drawing_shows_every_op_and_combine():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nas.draw import _draw_cell
    from nas.experiment import cell_diagrams
    from search_spaces.nasnet import nasnet_a_mobile
    normal, _ = cell_diagrams(nasnet_a_mobile())
    fig, ax = plt.subplots()
    _draw_cell(ax, normal)
    texts = [t.get_text() for t in ax.texts]
    plt.close(fig)
    assert sorted(t for t in texts if "×" in t or t == "identity") == sorted(
        ["sep 5×5", "sep 3×3"] * 2 + ["avg 3×3", "identity", "avg 3×3", "avg 3×3",
                                       "sep 3×3", "identity"])
    assert sum(t.startswith("add\nblock") for t in texts) == 5
    assert {"h[i-1]", "h[i-2]", "concat  →  h[i]"} <= set(texts)


def test_cli_show_draws_cells_small_and_the_op_graph_with_detail(tmp_path, capsys):
    from nas.cli import main
    cells, detail = tmp_path / "cells.png", tmp_path / "detail.png"
    assert main(["show", "nasnet_a_mobile", "--json", "--draw", str(cells)]) == 0
    assert main(["show", "nasnet_a_mobile", "--json", "--draw", str(detail), "--detail"]) == 0
    capsys.readouterr()
    w, h = _png_size(cells)
    assert w <= 1000 and h <= 1000                   # readable at 100 %: two small panels
    assert cells.stat().st_size < 200_000
    assert _png_size(detail)[0] > 1.5 * w            # the op graph: every primitive op
