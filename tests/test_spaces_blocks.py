"""blocks: the classic nets are fixed points (name-free encode by block hashes), every
assignment decodes to a valid genome, ignored decisions dedupe, errors name the decision."""
import random

import pytest

from nas import cost
from nas.errors import NasError
from nas.space import NotInSpaceError
from search_spaces import get_net, get_space
from search_spaces.blocks import FIXED_POINTS, TYPES

IMAGENET_NETS = ("resnet18", "resnet34", "resnet50", "se_resnet50", "resnext50_32x4d",
                 "wide_resnet50_2", "mobilenet_v1", "mobilenet_v2")


@pytest.fixture(scope="module")
def imagenet():
    return get_space("blocks", {"preset": "imagenet"})


def test_decision_lists():
    sp = get_space("blocks")
    names = [d.name for d in sp.decisions]
    assert len(names) == 3 + 3 * 6 + 2 == len(set(names))
    assert names[:3] == ["stem.type", "stem.width", "act"]
    assert names[3:9] == [f"stage1.{f}" for f in ("block", "width", "depth", "kernel",
                                                  "expansion", "se")]
    assert set(sp.decisions[3].choices) == set(TYPES) and len(TYPES) == 7
    big = get_space("blocks", {"preset": "imagenet"})
    assert len(big.decisions) == 3 + 7 * 6 + 2
    assert get_space("blocks", {"strides": "1,2"}).size() * 7 * 6 * 3 * 2 * 3 * 2 == sp.size()


@pytest.mark.parametrize("name", IMAGENET_NETS)
def test_imagenet_classics_are_fixed_points(imagenet, name):
    g = get_net(name)
    a = imagenet.encode_strict(g)
    assert imagenet.decode(a).hash == g.hash
    assert cost(imagenet.decode(a)).params == cost(g).params


def test_fixed_point_assignments_read_like_the_papers(imagenet):
    r50 = imagenet.encode(get_net("resnet50"))
    assert [r50[f"stage{j}.depth"] for j in range(1, 8)] == [3, 4, 6, 3, 0, 0, 0]
    assert [r50[f"stage{j}.width"] for j in range(1, 5)] == [256, 512, 1024, 2048]
    assert (r50["stage1.block"], r50["stage1.expansion"], r50["stem.type"]) == \
        ("bottleneck", 4, "conv7x7_pool")
    assert imagenet.encode(get_net("se_resnet50"))["stage3.se"] is True
    assert imagenet.encode(get_net("wide_resnet50_2"))["stage2.expansion"] == 2
    v2 = imagenet.encode(get_net("mobilenet_v2"))
    assert [v2[f"stage{j}.expansion"] for j in range(1, 8)] == [1, 6, 6, 6, 6, 6, 6]
    assert [v2[f"stage{j}.width"] for j in range(1, 8)] == [16, 24, 32, 64, 96, 160, 320]
    assert (v2["head.width"], v2["head.dropout"], v2["act"]) == (1280, 0.2, "relu6")
    v1 = imagenet.encode(get_net("mobilenet_v1"))
    assert [v1[f"stage{j}.depth"] for j in range(1, 8)] == [1, 2, 2, 6, 0, 2, 0]


def test_fixed_points_per_preset(imagenet):
    assert set(imagenet.fixed_points()) == set(IMAGENET_NETS) == set(FIXED_POINTS["imagenet"])
    cifar = get_space("blocks", {"preset": "cifar"})
    fp = cifar.fixed_points()
    assert list(fp) == ["resnet20"]
    a = cifar.encode(fp["resnet20"])
    assert [a[f"stage{j}.depth"] for j in (1, 2, 3)] == [3, 3, 3]
    assert cifar.decode(a).hash == get_net("resnet20").hash
    assert cost(cifar.decode(a)).params == 269_722  # He et al.: 0.27M (option A shortcuts)


def test_not_in_space_names_the_decision(imagenet):
    with pytest.raises(NotInSpaceError, match="option input: the genome takes 3x224x224, "
                                              "the space 1x8x8"):
        get_space("blocks").encode_strict(get_net("resnet18"))
    with pytest.raises(NotInSpaceError, match=r"stage1: .*denseblock1.denselayer1"):
        imagenet.encode_strict(get_net("densenet121"))
    with pytest.raises(NotInSpaceError, match="stem.type"):
        imagenet.encode_strict(get_net("alexnet"))
    with pytest.raises(NotInSpaceError, match="layer3"):  # depth 23 is not a depth choice
        imagenet.encode_strict(get_net("resnet101"))
    assert imagenet.encode(get_net("vgg11")) is None


def test_encode_is_name_free():
    sp = get_space("blocks")
    a = sp.sample(random.Random(4))
    g = sp.decode(a)
    d = g.to_dict()
    for c in d["cells"].values():  # rename every node of every block cell
        ren = {n["name"]: f"n{k}" for k, n in enumerate(c["nodes"])}
        for n in c["nodes"]:
            n["name"] = ren[n["name"]]
            if "inputs" in n:
                n["inputs"] = [ren.get(i, i) for i in n["inputs"]]
        if "output" in c:
            c["output"] = ren[c["output"]]
    from nas import Genome
    renamed = Genome.from_dict(d)
    assert renamed.hash == g.hash
    assert sp.decode(sp.encode_strict(renamed)).hash == g.hash


def test_ignored_decisions_dedupe():
    sp = get_space("blocks")
    a = sp.sample(random.Random(1))
    a.update({"stage2.block": "basic", "stage2.depth": 2})
    h = sp.decode(a).hash
    assert sp.decode({**a, "stage2.kernel": 5, "stage2.expansion": 6, "stage2.se": True}).hash == h
    assert sp.decode({**a, "stage2.block": "bottleneck"}).hash != h
    a.update({"stage2.block": "mbconv"})
    assert sp.decode({**a, "stage2.se": True}).hash != sp.decode({**a, "stage2.se": False}).hash


def test_extreme_assignments_are_valid():
    """Narrowest widths with the largest expansion, SE and ResNeXt's 32 groups, shrinking
    widths with parameter-free shortcuts: always a valid genome, never a rejection."""
    for preset in ("digits", "cifar"):
        sp = get_space("blocks", {"preset": preset})
        o = sp.options
        for kind in TYPES:
            for w in (min(o.widths), max(o.widths)):
                a = {d.name: d.choices[-1] for d in sp.decisions}
                for j in range(1, len(o.strides) + 1):
                    a.update({f"stage{j}.block": kind, f"stage{j}.width": w,
                              f"stage{j}.expansion": max(o.expansions), f"stage{j}.se": True})
                a["stage1.width"] = max(o.widths)  # then narrower: A shortcuts cannot drop
                g = sp.decode(a)
                assert sp.decode(sp.encode_strict(g)).hash == g.hash


def test_option_errors():
    with pytest.raises(NasError, match="'widths': needs widths ≥ 8"):
        get_space("blocks", {"widths": "4,8"})
    with pytest.raises(NasError, match="'preset': 'huge' is not one of"):
        get_space("blocks", {"preset": "huge"})
    with pytest.raises(NasError, match="'depths': expected integers"):
        get_space("blocks", {"depths": "one,two"})


def test_random_round_trips():
    sp = get_space("blocks")
    rng = random.Random(2)
    for _ in range(60):
        g = sp.decode(sp.sample(rng))
        assert sp.decode(sp.encode_strict(g)).hash == g.hash


@pytest.mark.slow
def test_random_round_trips():
    sp = get_space("blocks")
    rng = random.Random(12)
    for _ in range(300):
        g = sp.decode(sp.sample(rng))
        assert sp.decode(sp.encode_strict(g)).hash == g.hash


@pytest.mark.parametrize("preset", ["imagenet", "cifar"])
def test_preset_samples_are_valid_and_round_trip(preset):
    sp = get_space("blocks", {"preset": preset})
    rng = random.Random(6)
    for k in range(200):
        g = sp.decode(sp.sample(rng))  # a GenomeError here would be a rejected assignment
        if k < 10:
            assert sp.decode(sp.encode_strict(g)).hash == g.hash
