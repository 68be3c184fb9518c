"""Every sampled genome builds and trains a step on CPU at small size; the primitives the
spaces rely on compute what they claim (NASNet's shifted path, in-place ReLU safety)."""
import random

import pytest
import torch

from nas import Cell, Genome, Node, Stage, build, cost
from nas.builder import count_params
from search_spaces import get_space

SPACES = [("nasnet-cell", {}), ("nasnet-cell", {"concat": "choice", "stem": "imagenet",
                                                 "F": 8, "input": "1x16x16", "N": 1}),
          ("blocks", {}), ("exhaustive", {})]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name,opts", SPACES, ids=lambda v: str(v) if isinstance(v, str) else
                         "-".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_sampled_genomes_build_and_train(name, opts, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path))
    space = get_space(name, opts)
    rng = random.Random(21)
    torch.manual_seed(0)
    for _ in range(16):
        g = space.decode(space.sample(rng))
        model = build(g)
        assert count_params(model) == cost(g).params
        x = torch.randn(2, *g.input)
        y = model(x)
        assert y.shape == (2, g.num_classes) and torch.isfinite(y).all()
        torch.nn.functional.cross_entropy(y, torch.tensor([0, 1])).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert grads and all(gr is not None and torch.isfinite(gr).all() for gr in grads)


def test_pad_shifts_by_one_pixel_like_nasnet():
    """pad(-1, 1, -1, 1) then 1×1 stride-2 average pool = x[:, :, 1::2, 1::2], zero-padded:
    the second path of NASNet's factorized reduction (TF-slim ``factorized_reduction``)."""
    cell = Cell((Node("pad", "pad", args={"left": -1, "right": 1, "top": -1, "bottom": 1}),
                 Node("pool", "avgpool", args={"kernel": 1, "stride": 2})))
    g = Genome("shift", (Stage("s", cell, block_name=""),), input=(2, 5, 5))
    x = torch.randn(1, 2, 5, 5)
    y = build(g)(x)
    assert y.shape == (1, 2, 3, 3) and g.graph.output_shape == (2, 3, 3)
    assert torch.equal(y[:, :, :2, :2], x[:, :, 1::2, 1::2])
    assert torch.equal(y[:, :, 2, :], torch.zeros(1, 2, 3)) and torch.equal(y[:, :, :, 2],
                                                                              torch.zeros(1, 2, 3))


def test_inplace_activation_never_clobbers_a_shared_input():
    """A cell input read by a ReLU branch and a skip branch (every NASNet and NAS-Bench-201
    cell): the in-place ReLU must not overwrite what the skip adds."""
    cell = Cell((Node("r", "relu", ("x",)), Node("c", "conv", ("r",), {"out_ch": 2, "kernel": 1}),
                 Node("sum", "add", ("c", "x"))))
    stem = Cell((Node("conv", "conv", args={"out_ch": 2, "kernel": 1}),))
    g = Genome("t", (Stage("stem", stem, block_name=""), Stage("b", cell, block_name="")),
               input=(2, 3, 3))
    m = build(g)
    x = torch.randn(4, 2, 3, 3)
    s = m.stem.conv(x)
    assert torch.allclose(m(x), m.b.c(torch.relu(s)) + s)
    x0 = x.clone()
    m(x)
    assert torch.equal(x, x0)  # nor the caller's input
