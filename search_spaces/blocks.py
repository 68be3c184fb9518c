"""``blocks``: a hierarchical macro space over stages, MnasNet-style (Tan et al., "MnasNet:
Platform-Aware Neural Architecture Search for Mobile", CVPR 2019, §4.1): the network is a stem,
S stages with fixed strides, and a head; each stage repeats one block, and the search picks
per stage

* ``block`` — conv (conv-BN-act), basic residual, bottleneck, ResNeXt (grouped bottleneck,
  cardinality 32), inception, depthwise-separable, MBConv (inverted residual);
* ``width`` (output channels), ``depth`` (blocks; 0 skips the stage), ``kernel`` (conv,
  depthwise and inception 5×5-branch kernel), ``expansion`` (MBConv expansion ratio t, or the
  bottleneck ratio out/inner of the residual bottlenecks), ``se`` (squeeze-and-excitation on
  bottleneck, ResNeXt and MBConv blocks: SE-ResNet, MnasNet-A);

plus ``stem.type`` (3×3 conv; 3×3/2 conv; 7×7/2 conv + 3×3/2 max-pool), ``stem.width``,
``act`` (ReLU/ReLU6 of the stem, plain conv, depthwise-separable and head conv), ``head.width``
(a 1×1 conv before pooling, 0 for none) and ``head.dropout``. A decision a block type does not
use is ignored (assignments differing only there decode to the same network and hash).

The blocks are :mod:`search_spaces.cells`' cells — the very cells of the classic nets — so
ResNet-18/34/50, SE-ResNet-50, ResNeXt-50 32×4d, Wide ResNet-50-2, MobileNet v1 and v2 are
fixed points of the ``imagenet`` preset (7 stages at MobileNetV2's strides 1,2,2,2,1,2,1; a
ResNet skips the last three, MobileNet v1 the 5th and 7th) and ResNet-20 of the ``cifar``
preset. ``encode`` is name-free: it matches the genome's block hashes stage by stage.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any, Mapping

from nas.errors import GenomeError, NasError
from nas.genome import Cell, Genome, Node, Stage
from nas.hashing import block_hash
from nas.space import Assignment, Decision, NotInSpaceError, SearchSpace
from search_spaces import cells
from search_spaces.registry import SPACES, get_net
from search_spaces.options import check_io, make_options, option

#: block type -> the per-stage decisions it uses (besides width and depth)
TYPES = {"conv": ("kernel",), "basic": (), "bottleneck": ("expansion", "se"),
         "resnext": ("expansion", "se"), "inception": ("kernel",), "dws": ("kernel",),
         "mbconv": ("kernel", "expansion", "se")}
STEMS = ("conv3x3", "conv3x3_s2", "conv7x7_pool")
ACTS = ("relu", "relu6")
DROPOUTS = (0.0, 0.2)
STAGE_FIELDS = ("block", "width", "depth", "kernel", "expansion", "se")
CARDINALITY, GROUP_WIDTH = 32, 4  # ResNeXt 32×4d
SE_REDUCTION, SE_RATIO = 16, 0.25  # SE-ResNet's r = 16; MnasNet's SE ratio 0.25


@dataclasses.dataclass(frozen=True)
class BlocksOptions:
    preset: str = option("digits", "digits: 3 small stages for 1×8×8 digits; imagenet: 7 stages "
                         "whose choices include the classic nets; cifar: 3 stages at 32×32 "
                         "(ResNet-20)", ("digits", "imagenet", "cifar"))
    strides: tuple = option((1, 2, 2), "stride of each stage (their number is the stage count)")
    widths: tuple = option((8, 16, 24, 32, 48, 64), "stage width choices (output channels)")
    depths: tuple = option((1, 2, 3), "blocks-per-stage choices (0 skips a stage)")
    kernels: tuple = option((3, 5), "kernel choices")
    expansions: tuple = option((1, 3, 6), "expansion choices (MBConv t; bottleneck out/inner)")
    stem_widths: tuple = option((8, 16), "stem width choices")
    head_widths: tuple = option((0, 64), "head 1×1 conv width choices (0: no head conv)")
    shortcut: str = option("B", "basic-block shortcut: B projection (torchvision), A "
                           "parameter-free (CIFAR ResNets)", ("A", "B"))
    input: tuple = option((1, 8, 8), "input C×H×W")
    num_classes: int = option(10, "number of classes")


PRESETS = {
    "digits": {},
    "imagenet": {"strides": (1, 2, 2, 2, 1, 2, 1),
                 "widths": (16, 24, 32, 64, 96, 128, 160, 256, 320, 512, 1024, 2048),
                 "depths": (0, 1, 2, 3, 4, 6), "kernels": (3, 5, 7),
                 "expansions": (1, 2, 3, 4, 6), "stem_widths": (16, 32, 64),
                 "head_widths": (0, 1280), "input": (3, 224, 224), "num_classes": 1000},
    "cifar": {"strides": (1, 2, 2), "widths": (16, 32, 64, 128), "depths": (1, 2, 3, 5, 7, 9),
              "kernels": (3, 5), "expansions": (1, 4, 6), "stem_widths": (16, 32),
              "head_widths": (0,), "shortcut": "A", "input": (3, 32, 32), "num_classes": 10},
}

#: classic nets that are fixed points of each preset (at the preset's input and classes)
FIXED_POINTS = {
    "digits": (),
    "imagenet": ("resnet18", "resnet34", "resnet50", "se_resnet50", "resnext50_32x4d",
                 "wide_resnet50_2", "mobilenet_v1", "mobilenet_v2"),
    "cifar": ("resnet20",),
}


# =========================================================================== cells and stages


@lru_cache(maxsize=None)
def block_cell(kind: str, se: bool, act: str, shortcut: str) -> Cell:
    """The library cell of a block type; per-stage numbers come in as stage args."""
    se_r = "r" if se else None  # stage arg r: 16, or the width itself below 16 channels
    return {
        "conv": lambda: cells.conv_bn_act(kernel="k", act=act),
        "basic": lambda: cells.basic(shortcut=shortcut),
        "bottleneck": lambda: cells.bottleneck(expansion="e", se_reduction=se_r),
        "resnext": lambda: cells.bottleneck(expansion="e", groups=CARDINALITY,
                                            width_per_group="wpg", se_reduction=se_r),
        "inception": lambda: cells.inception(k5="k"),
        "dws": lambda: cells.depthwise_separable(kernel="k", act=act),
        "mbconv": lambda: cells.inverted_residual(t="t", kernel="k",
                                                  se=SE_RATIO if se else None),
    }[kind]()


def _cell_key(kind: str, se: bool, act: str) -> str:
    uses = TYPES[kind]
    return kind + ("_se" if se and "se" in uses else "") + (f"_{act}" if kind in ("conv", "dws")
                                                              else "")


def stage_args(kind: str, width: int, kernel: int, expansion: int) -> dict:
    if kind in ("conv", "dws"):
        return {"k": kernel}
    if kind == "mbconv":
        return {"t": expansion, "k": kernel}
    if kind == "bottleneck":
        return {"e": expansion, "r": min(SE_REDUCTION, width)}
    if kind == "resnext":  # group width 4 (32×4d); wider where 4 would give empty groups
        planes = width // expansion
        return {"e": expansion, "wpg": max(GROUP_WIDTH, -(-64 // planes)),
                "r": min(SE_REDUCTION, width)}
    if kind == "inception":  # GoogLeNet 3a's proportions: 1×1 ¼, 3×3 ½, 5×5 ⅛, pool ⅛
        c1, c3, c5 = width // 4, width // 2, width // 8
        return {"k": kernel, "c1": c1, "c3r": max(1, c3 * 3 // 4), "c3": c3,
                "c5r": max(1, c5 // 2), "c5": c5, "pp": width - c1 - c3 - c5}
    return {}


def stem_stage(kind: str, width: int, act: str) -> Stage:
    if kind == "conv7x7_pool":  # ResNet's stem
        cell = Cell((Node("conv1", "conv", args={"out_ch": width, "kernel": 7, "stride": 2,
                                                 "padding": 3}),
                     Node("bn1", "bn"), Node("relu", act),
                     Node("maxpool", "maxpool", args={"kernel": 3, "stride": 2, "padding": 1})))
    else:
        cell = cells.conv_bn_act(out_ch=width, kernel=3, stride=2 if kind == "conv3x3_s2" else 1,
                                 act=act)
    return Stage("stem", cell, block_name="")


def head_stages(width: int, dropout: float, act: str) -> list[Stage]:
    out = []
    if width:
        out.append(Stage("head_conv", cells.conv_bn_act(out_ch=width, kernel=1, stride=1,
                                                        act=act), block_name=""))
    nodes = [Node("avgpool", "adaptive_avgpool", args={"size": 1}), Node("flatten", "flatten")]
    if dropout:
        nodes.append(Node("dropout", "dropout", args={"p": dropout}))
    nodes.append(Node("fc", "linear", args={"out_ch": "K"}))
    return out + [Stage("", Cell(tuple(nodes)), block_name="")]


# =========================================================================== the space


class BlocksSpace(SearchSpace):
    """The MnasNet-style macro space; options as :class:`BlocksOptions` (with presets)."""

    name = "blocks"
    description = ("MnasNet-style macro space: per stage block type (conv, basic, bottleneck, "
                   "ResNeXt, inception, dws, MBConv), width, depth, kernel, expansion, SE; "
                   "stem and head choices")
    Options = BlocksOptions
    PRESETS = PRESETS

    def __init__(self, **options: Any):
        o = self.options = make_options(BlocksOptions, options, self.name, PRESETS)
        where = f"space {self.name!r} option"
        checks = [("strides", o.strides and min(o.strides) >= 1, "stage strides ≥ 1"),
                  ("widths", o.widths and min(o.widths) >= max(8, max(o.expansions or (1,))),
                   "widths ≥ 8 and ≥ every expansion (inception splits a width in 8ths; a "
                   "bottleneck's inner width is width/expansion)"),
                  ("depths", o.depths and min(o.depths) >= 0 and max(o.depths) >= 1,
                   "depths ≥ 0, at least one ≥ 1"),
                  ("kernels", o.kernels and all(k >= 1 and k % 2 for k in o.kernels),
                   "odd kernels ≥ 1"),
                  ("expansions", o.expansions and min(o.expansions) >= 1, "expansions ≥ 1"),
                  ("stem_widths", o.stem_widths and min(o.stem_widths) >= 1, "widths ≥ 1"),
                  ("head_widths", o.head_widths and min(o.head_widths) >= 0, "widths ≥ 0"),
                  ("input", len(o.input) == 3 and min(o.input) >= 1, "C×H×W"),
                  ("num_classes", o.num_classes >= 1, "≥ 1")]
        for name, ok, need in checks:
            if not ok:
                raise NasError(f"{where} {name!r}: needs {need}, got {getattr(o, name)!r}")
        d = [Decision("stem.type", STEMS), Decision("stem.width", o.stem_widths),
             Decision("act", ACTS)]
        for j in range(1, len(o.strides) + 1):
            d += [Decision(f"stage{j}.block", tuple(TYPES)), Decision(f"stage{j}.width", o.widths),
                  Decision(f"stage{j}.depth", o.depths), Decision(f"stage{j}.kernel", o.kernels),
                  Decision(f"stage{j}.expansion", o.expansions),
                  Decision(f"stage{j}.se", (False, True))]
        d += [Decision("head.width", o.head_widths), Decision("head.dropout", DROPOUTS)]
        self._decisions = tuple(d)
        self._probes: dict = {}

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    # ---------------------------------------------------------------- decode
    def stage(self, j: int, choice: Mapping[str, Any], act: str, cin: int
              ) -> tuple[list[Stage], dict]:
        """Stage ``j`` (1-based) for its six choices on ``cin`` input channels: the stages and
        the cells they use."""
        kind, width, depth = choice["block"], choice["width"], choice["depth"]
        if depth == 0:
            return [], {}
        stride = self.options.strides[j - 1]
        se = bool(choice["se"]) and "se" in TYPES[kind]
        shortcut = self.options.shortcut
        if kind == "basic" and shortcut == "A" and width < cin:  # A cannot drop channels
            shortcut = "B"
        key = _cell_key(kind, se, act) + ("_proj" if shortcut != self.options.shortcut else "")
        cell = block_cell(kind, se, act, shortcut)
        out = []
        if kind == "inception" and stride > 1:  # inception blocks keep the size: pool first
            out.append(Stage(f"stage{j}.pool", Cell((Node("pool", "maxpool", args={
                "kernel": 3, "stride": stride, "padding": 1}),)), block_name=""))
            stride = 1
        out.append(Stage(f"stage{j}", key, repeat=depth, out_ch=width, stride=stride,
                         args=stage_args(kind, width, choice["kernel"], choice["expansion"])))
        return out, {key: cell}

    def decode(self, assignment: Mapping[str, Any]) -> Genome:
        a = self.check(assignment)
        act = a["act"]
        stages = [stem_stage(a["stem.type"], a["stem.width"], act)]
        used: dict[str, Cell] = {}
        cin = a["stem.width"]
        for j in range(1, len(self.options.strides) + 1):
            choice = {f: a[f"stage{j}.{f}"] for f in STAGE_FIELDS}
            st, cs = self.stage(j, choice, act, cin)
            stages += st
            used.update(cs)
            cin = choice["width"] if choice["depth"] else cin
        stages += head_stages(a["head.width"], a["head.dropout"], act)
        return Genome(self.name, tuple(stages), tuple(used.items()), self.options.input,
                      self.options.num_classes)

    # ---------------------------------------------------------------- encode (name-free)
    def _probe(self, stages: tuple[Stage, ...], used: Mapping[str, Cell], shape: tuple):
        """Block hashes and output shape of ``stages`` applied to a ``shape`` input (cached)."""
        key = (stages, tuple(sorted(used.items())), shape)
        if key not in self._probes:
            try:
                g = Genome("probe", stages, tuple(used.items()), shape, self.options.num_classes)
            except GenomeError:  # e.g. a foreign genome's shapes that no choice fits
                self._probes[key] = (None, None)
                return self._probes[key]
            hashes = tuple(h for b in range(len(g.graph.blocks))
                           if (h := block_hash(g.graph, b)) is not None)
            self._probes[key] = (hashes, g.graph.output_shape)
        return self._probes[key]

    def encode_strict(self, genome: Genome) -> Assignment:
        o = self.options
        check_io(genome, o.input, o.num_classes)
        graph = genome.graph
        target, info = [], []
        for b, blk in enumerate(graph.blocks):
            h = block_hash(graph, b)
            if h is not None:
                target.append(h)
                info.append((blk.path or f"block {b}", graph.nodes[blk.output].shape))
        parse = _Parse(self, tuple(target), info)
        a = parse.run()
        if self.decode(a).hash != genome.hash:  # cannot happen if every block matched
            raise NotInSpaceError("the blocks match a blocks assignment, but decoding it gives "
                                  "a different network")
        return self.check(a)

    # ---------------------------------------------------------------- fixed points
    def fixed_points(self) -> dict[str, Genome]:
        o = self.options
        out = {}
        for name in FIXED_POINTS[o.preset]:
            g = get_net(name, input=o.input, num_classes=o.num_classes)
            if self.encode(g) is not None:
                out[name] = g
        return out

    def projected_fixed_points(self) -> list[dict]:
        """The fixed points of the ``cifar`` (ResNet-20) and ``imagenet`` presets (ResNets,
        SE-ResNet, ResNeXt, Wide ResNet, MobileNets) as points of this space, named
        ``<net>-s``: the net itself where this space holds it at its input size, else its
        projection by :meth:`project`. ``reason``: why the net built at this space's input
        size is not in this space as it is (and which single option of its preset would bring
        it in, if one does)."""
        o = self.options
        out = []
        for preset in ("cifar", "imagenet"):
            src = BlocksSpace(preset=preset)
            for name, g0 in src.fixed_points().items():
                try:
                    small = get_net(name, input=o.input, num_classes=o.num_classes)
                    reason = self._reason(small, src.options)
                except GenomeError as e:
                    small, reason = None, f"does not build at {'×'.join(map(str, o.input))}: {e}"
                try:
                    if small is not None and reason is None:    # in the space as it is
                        a, changes = self.encode(small), []
                    else:
                        a, changes = self.project(src.encode(g0), src.options)
                    genome = self.decode(a)
                except NasError as e:    # e.g. a stage this space cannot skip
                    a, genome, changes = None, None, [f"no projection: {e}"]
                out.append({"name": f"{name}-s", "source": f"blocks/{preset}", "genome": genome,
                            "assignment": a, "reason": reason, "changes": changes})
        return out

    def project(self, assignment: Mapping[str, Any], source: BlocksOptions
                ) -> tuple[Assignment, list[str]]:
        """An assignment of a space with options ``source`` projected onto this space's
        options, as the CIFAR versions of ImageNet nets are made: the first
        ``len(strides)`` used stages are kept (an 8×8 input has that many resolutions; stages
        this space has beyond them are skipped); a stride-2 stem becomes the stride-1 3×3 conv;
        widths are scaled by ``f = min(1, widest choice / widest kept stage)`` (a width
        multiplier that shrinks only what does not fit) and every number is snapped to the
        nearest choice. Returns the assignment and the changes made (for a report)."""
        def nearest(v: float, choices) -> Any:    # the smaller one on a tie
            return min(sorted(choices), key=lambda c: abs(c - v))

        o, a = self.options, assignment
        n = len(o.strides)
        used = [j for j in range(1, len(source.strides) + 1) if a[f"stage{j}.depth"] > 0]
        keep = used[:n]
        changes = []
        if len(used) > n:
            changes.append(f"kept the first {n} of {len(used)} stages")
        f = min(1.0, max(o.widths) / max(a[f"stage{j}.width"] for j in keep))
        if f < 1:
            changes.append(f"width × {f:g}")
        out = {"act": a["act"], "stem.type": "conv3x3",
               "stem.width": nearest(a["stem.width"] * f, o.stem_widths)}
        if a["stem.type"] != "conv3x3":
            changes.append(f"stem {a['stem.type']} → conv3x3")
        for k, j in enumerate(keep, 1):
            for fld, val, choices in (("width", a[f"stage{j}.width"] * f, o.widths),
                                      ("depth", a[f"stage{j}.depth"], o.depths),
                                      ("kernel", a[f"stage{j}.kernel"], o.kernels),
                                      ("expansion", a[f"stage{j}.expansion"], o.expansions)):
                out[f"stage{k}.{fld}"] = nearest(val, choices)
                if fld != "width" and out[f"stage{k}.{fld}"] != val:
                    changes.append(f"stage{k} {fld} {val} → {out[f'stage{k}.{fld}']}")
            out[f"stage{k}.block"] = a[f"stage{j}.block"]
            out[f"stage{k}.se"] = a[f"stage{j}.se"]
        for k in range(len(keep) + 1, n + 1):
            out.update({d.name: d.choices[0] for d in self.decisions
                         if d.name.startswith(f"stage{k}.")})
            out[f"stage{k}.depth"] = 0       # check() refuses it where 0 is no choice
            changes.append(f"stage{k} skipped")
        head = nearest(a["head.width"] * f, o.head_widths)
        if head != a["head.width"] * f:
            changes.append(f"head {a['head.width']} → {head}")
        out["head.width"] = head
        out["head.dropout"] = a["head.dropout"]
        if source.shortcut != o.shortcut and any(
                out[f"stage{k}.block"] == "basic" for k in range(1, len(keep) + 1)):
            changes.append(f"shortcut {source.shortcut} → {o.shortcut} (the space's)")
        return self.check(out), list(dict.fromkeys(changes))

    def _reason(self, genome: Genome, source: BlocksOptions) -> str | None:
        """Why ``genome`` is not in this space (None if it is) and, if one does, which single
        option of ``source`` (a preset's options) would bring it in."""
        try:
            self.encode_strict(genome)
            return None
        except NotInSpaceError as e:
            reason = str(e)
        mine = {k: v for k, v in dataclasses.asdict(self.options).items() if k != "preset"}
        for k, v in dataclasses.asdict(source).items():
            if k in ("preset", "input", "num_classes") or mine[k] == v:
                continue
            try:
                other = BlocksSpace(**{**mine, k: v})
            except NasError:            # an option that does not combine is no answer
                continue
            if other.encode(genome) is not None:
                shown = ",".join(map(str, v)) if isinstance(v, tuple) else v
                return f"{reason} — in the space with --option {k}={shown}"
        return reason

    def describe(self) -> dict:
        return {**super().describe(), "options": dataclasses.asdict(self.options)}


class _Parse:
    """Depth-first match of a genome's block-hash sequence against stem, stages and head."""

    def __init__(self, space: BlocksSpace, target: tuple, info: list):
        self.s, self.o, self.target, self.info = space, space.options, target, info
        self.failed: set = set()
        self.best = (0, 0, "stem.type", "no stem choice gives the first block")

    def fail(self, pos: int, order: int, decision: str, detail: str) -> None:
        """Remember the failure furthest into the genome (the earliest decision there)."""
        if pos > self.best[0] or (pos == self.best[0] and order < self.best[1]):
            self.best = (pos, order, decision, detail)

    def run(self) -> Assignment:
        o = self.o
        for kind in STEMS:
            for act in ACTS:
                for w in o.stem_widths:
                    st = (stem_stage(kind, w, act),)
                    hashes, shape = self.s._probe(st, {}, o.input)
                    if hashes is None or self.target[:len(hashes)] != hashes:
                        continue
                    rest = self.stages(1, len(hashes), shape, act)
                    if rest is not None:
                        return {"stem.type": kind, "stem.width": w, "act": act, **rest}
        pos, _, decision, detail = self.best
        where = (f"block {self.info[pos][0]!r} ({self.info[pos][1][0]} channels)"
                 if pos < len(self.info) else "the end of the genome")
        raise NotInSpaceError(f"{decision}: {detail} (the match stops at {where})")

    def candidates(self, j: int):
        """Distinct (block, kernel, expansion, se) of stage j (unused decisions at their first
        choice, so each network is tried once)."""
        o = self.o
        first = {"kernel": o.kernels[0], "expansion": o.expansions[0], "se": False}
        seen = set()
        for kind, uses in TYPES.items():
            for k in o.kernels:
                for e in o.expansions:
                    for se in (False, True):
                        c = {"kernel": k, "expansion": e, "se": se}
                        c = {f: (v if f in uses else first[f]) for f, v in c.items()}
                        key = (kind, *c.values())
                        if key not in seen:
                            seen.add(key)
                            yield {"block": kind, **c}

    def stages(self, j: int, pos: int, shape: tuple, act: str) -> Assignment | None:
        o = self.o
        if j > len(o.strides):
            return self.head(pos, shape, act)
        if (j, pos, shape, act) in self.failed:
            return None
        names = [f"stage{j}.{f}" for f in STAGE_FIELDS]
        widths = {self.info[p][1][0] for p in (pos, pos + 1) if p < len(self.info)}
        for c in self.candidates(j):
            for w in (w for w in o.widths if w in widths):
                one, used = self.s.stage(j, {**c, "width": w, "depth": 1}, act, shape[0])
                h1, out = self.s._probe(tuple(one), used, shape)
                if h1 is None or self.target[pos:pos + len(h1)] != h1:
                    continue
                two = tuple(one[:-1]) + (dataclasses.replace(one[-1], repeat=2),)
                h2 = self.s._probe(two, used, shape)[0][-1]
                run = 0
                while pos + len(h1) + run < len(self.target) and \
                        self.target[pos + len(h1) + run] == h2:
                    run += 1
                for d in sorted((d for d in o.depths if 1 <= d <= run + 1), reverse=True):
                    rest = self.stages(j + 1, pos + len(h1) + d - 1, out, act)
                    if rest is not None:
                        return {**dict(zip(names, (c["block"], w, d, c["kernel"],
                                                   c["expansion"], c["se"]))), **rest}
        if 0 in o.depths:  # the stage is skipped
            rest = self.stages(j + 1, pos, shape, act)
            if rest is not None:
                skip = next(self.candidates(j))
                return {**dict(zip(names, (skip["block"], o.widths[0], 0, skip["kernel"],
                                           skip["expansion"], skip["se"]))), **rest}
        self.fail(pos, j, f"stage{j}", "no block type × width × depth × kernel × expansion × "
                  "SE choice gives the next blocks")
        self.failed.add((j, pos, shape, act))
        return None

    def head(self, pos: int, shape: tuple, act: str) -> Assignment | None:
        for w in self.o.head_widths:
            for p in DROPOUTS:
                hashes, _ = self.s._probe(tuple(head_stages(w, p, act)), {}, shape)
                if hashes is not None and self.target[pos:] == hashes:
                    return {"head.width": w, "head.dropout": p}
        self.fail(pos, len(self.o.strides) + 1, "head.width", "the remaining blocks are not a "
                  "head (optional 1×1 conv, pool, dropout, fc)")
        return None


SPACES.register("blocks", BlocksSpace)
