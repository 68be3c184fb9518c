"""The genome IR: plain, frozen, torch-free data describing a CNN.

Two levels:

* a :class:`Cell` is a DAG of primitive-op :class:`Node` s with named input slots and one
  output. Node arguments may be expressions over the variables of the place the cell is used
  (``C`` stage width, ``cin`` channels of the first input, ``s`` stride of this block, ``i``
  block index, ``K`` number of classes, ``<slot>_c/_h/_w`` per input slot, and the stage's
  ``args``). A node with a ``when`` condition that is false is elided: it becomes an alias of
  its first input (a projection shortcut that only exists when the shape changes, an expansion
  conv that only exists when ``t != 1``, a residual add only when ``s == 1 and cin == C``).
* a :class:`Genome` is a sequence of :class:`Stage` s (by convention stem → stages → head),
  each repeating one cell ``repeat`` times; the first repeat gets the stage's ``stride``.
  Block outputs form a stream; a cell with k input slots reads the k latest stream entries
  (slot 0 the latest), as NASNet cells read h[i-1] and h[i-2].

Constructing a genome validates it completely (structure, op parameters, shapes): an invalid
genome raises one :class:`GenomeError` naming the node path and the fault. The validated,
concrete form is :attr:`Genome.graph` (a :class:`Graph` of :class:`LNode`), which the cost
model, the hash and the builder all read.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from nas.errors import GenomeError
from nas.expr import ExprError, evaluate
from nas.ops import OPS, OpShapeError

_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")
_FUNCTIONAL = {"flatten", "identity", "add", "concat", "mul", "channel_slice"}
Value = Any  # int | float | bool | str | tuple


def _freeze(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, Mapping):
        return tuple(sorted((str(k), _freeze(x)) for k, x in v.items()))
    return v


def _thaw(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_thaw(x) for x in v]
    return v


def _pairs(v: Any, where: str) -> tuple:
    if v is None:
        return ()
    if isinstance(v, Mapping):
        for k, x in v.items():
            _check_value(x, f"{where}.{k}")
        return tuple(sorted((str(k), _freeze(x)) for k, x in v.items()))
    if isinstance(v, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in v):
        return tuple(sorted(v))
    raise GenomeError(where, f"expected a mapping of name: value, got {type(v).__name__}")


def _check_value(x: Any, where: str) -> None:
    if isinstance(x, (list, tuple)):
        for j, y in enumerate(x):
            _check_value(y, f"{where}[{j}]")
    elif not isinstance(x, (int, float, str, bool)) and x is not None:
        raise GenomeError(where, f"expected a number, string or list, got {type(x).__name__}")


def _check_path(name: str, where: str) -> None:
    if not isinstance(name, str) or not name or not all(_SEGMENT.match(s) for s in name.split(".")):
        raise GenomeError(where, f"bad name {name!r}: use dot-separated identifiers or numbers "
                                 "(e.g. 'conv1', 'downsample.0')")


# =========================================================================== the data


@dataclass(frozen=True)
class Node:
    """One primitive op. ``inputs`` empty means: the previous node (or the cell's first slot)."""

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    args: tuple[tuple[str, Value], ...] = ()
    when: str | None = None

    def __post_init__(self):
        where = self.name if isinstance(self.name, str) else "node"
        _check_path(self.name, where)
        if not isinstance(self.op, str):
            raise GenomeError(where, f"op must be a string, got {type(self.op).__name__}")
        if self.op not in OPS:
            raise GenomeError(where, _unknown_op(self.op))
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        if not isinstance(self.inputs, (list, tuple)) or not all(isinstance(i, str) for i in self.inputs):
            raise GenomeError(where, "inputs must be a list of node or slot names")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "args", _pairs(self.args, where))
        spec = OPS.get(self.op)
        for k, _ in self.args:
            if k not in spec.params:
                raise GenomeError(where, f"unknown parameter {k!r} for op {self.op!r} "
                                         f"(known: {', '.join(spec.params) or 'none'})")
        lo, hi = spec.arity
        n = max(1, len(self.inputs))
        if n < lo or (hi is not None and n > hi):
            raise GenomeError(where, f"op {self.op!r} takes {lo}{'+' if hi is None else ''}"
                                     f"{'' if hi in (None, lo) else '-' + str(hi)} inputs, got {n}")
        if self.when is not None and not isinstance(self.when, str):
            raise GenomeError(where, "when must be an expression string")

    @property
    def kw(self) -> dict:
        return dict(self.args)

    def to_dict(self) -> dict:
        d: dict = {"name": self.name, "op": self.op}
        if self.inputs:
            d["inputs"] = list(self.inputs)
        if self.args:
            d["args"] = {k: _thaw(v) for k, v in self.args}
        if self.when is not None:
            d["when"] = self.when
        return d


def _unknown_op(name: str) -> str:
    try:
        OPS.get(name)
    except KeyError as e:
        return str(e)
    return ""


@dataclass(frozen=True)
class Cell:
    """A DAG of nodes with named input slots; its output is ``output`` (default: last node)."""

    nodes: tuple[Node, ...]
    inputs: tuple[str, ...] = ("x",)
    output: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if not self.nodes:
            raise GenomeError("", "a cell needs at least one node")
        if not self.inputs:
            raise GenomeError("", "a cell needs at least one input slot")
        names: set[str] = set()
        for s in self.inputs:
            if not isinstance(s, str) or not s.isidentifier():
                raise GenomeError("", f"bad input slot name {s!r}")
        for n in self.nodes:
            if not isinstance(n, Node):
                raise GenomeError("", f"cell nodes must be Node, got {type(n).__name__}")
            if n.name in names or n.name in self.inputs:
                raise GenomeError(n.name, "duplicate node name")
            names.add(n.name)
        known = names | set(self.inputs)
        for n in self.nodes:
            for i in n.inputs:
                if i not in known:
                    raise GenomeError(n.name, f"input {i!r} is not a node or slot of this cell "
                                              f"(slots: {', '.join(self.inputs)})")
        if self.output is None:
            object.__setattr__(self, "output", self.nodes[-1].name)
        if self.output not in names:
            raise GenomeError("", f"cell output {self.output!r} is not a node of the cell")
        self.order()  # raises on a cycle

    def sources(self, k: int) -> tuple[str, ...]:
        """The real inputs of node k (an empty ``inputs`` means the previous node)."""
        n = self.nodes[k]
        if n.inputs:
            return n.inputs
        return (self.nodes[k - 1].name,) if k else (self.inputs[0],)

    def order(self) -> list[int]:
        """Node indices in a topological order (stable); raises GenomeError on a cycle."""
        idx = {n.name: k for k, n in enumerate(self.nodes)}
        deps = {k: [idx[s] for s in self.sources(k) if s in idx] for k in range(len(self.nodes))}
        state: dict[int, int] = {}
        out: list[int] = []

        def visit(k: int, trail: list[int]):
            if state.get(k) == 2:
                return
            if state.get(k) == 1:
                cyc = trail[trail.index(k):] + [k]
                raise GenomeError(self.nodes[k].name, "cycle: " + " -> ".join(
                    self.nodes[j].name for j in cyc))
            state[k] = 1
            for d in deps[k]:
                visit(d, trail + [k])
            state[k] = 2
            out.append(k)

        for k in range(len(self.nodes)):
            visit(k, [])
        return out

    def to_dict(self) -> dict:
        d: dict = {"inputs": list(self.inputs), "nodes": [n.to_dict() for n in self.nodes]}
        if self.output != self.nodes[-1].name:
            d["output"] = self.output
        return d


@dataclass(frozen=True)
class Stage:
    """``repeat`` blocks of one cell, named ``{name}.{block_name.format(i=start+i)}``."""

    name: str
    cell: str | Cell
    repeat: int = 1
    out_ch: int | None = None
    stride: int = 1
    args: tuple[tuple[str, Value], ...] = ()
    block_name: str = "{i}"
    start: int = 0

    def __post_init__(self):
        where = f"stage {self.name!r}"
        if self.name != "":
            _check_path(self.name, where)
        object.__setattr__(self, "args", _pairs(self.args, where + ".args"))
        for f, lo in (("repeat", 1), ("stride", 1), ("start", 0)):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise GenomeError(where, f"{f} must be an integer ≥ {lo}, got {v!r}")
        if self.out_ch is not None and (isinstance(self.out_ch, bool) or not isinstance(
                self.out_ch, int) or self.out_ch < 1):
            raise GenomeError(where, f"out_ch must be a positive integer, got {self.out_ch!r}")
        if not isinstance(self.cell, (str, Cell)):
            raise GenomeError(where, "cell must be a cell name or a cell")
        if not isinstance(self.block_name, str):
            raise GenomeError(where, "block_name must be a string")
        if self.block_name == "" and self.repeat != 1:
            raise GenomeError(where, "an unnamed block (block_name '') can only be used once")

    def block_path(self, i: int) -> str:
        b = self.block_name.format(i=self.start + i)
        return ".".join(p for p in (self.name, b) if p)

    def to_dict(self) -> dict:
        d: dict = {"name": self.name,
                   "cell": self.cell if isinstance(self.cell, str) else self.cell.to_dict()}
        for f in ("repeat", "out_ch", "stride", "block_name", "start"):
            v = getattr(self, f)
            if v != _STAGE_DEFAULTS[f]:
                d[f] = v
        if self.args:
            d["args"] = {k: _thaw(v) for k, v in self.args}
        return d


_STAGE_DEFAULTS = {"repeat": 1, "out_ch": None, "stride": 1, "block_name": "{i}", "start": 0}


# =========================================================================== lowered form


@dataclass(frozen=True)
class LNode:
    """A concrete node of the lowered network: all arguments evaluated, shapes known."""

    index: int
    path: str
    op: str
    inputs: tuple[int, ...]
    args: dict
    in_shapes: tuple[tuple[int, ...], ...]
    shape: tuple[int, ...]
    block: int  # index into Graph.blocks (-1 for the network input)

    @property
    def module(self) -> bool:
        return self.op not in _FUNCTIONAL and self.op != "input"


@dataclass(frozen=True)
class Block:
    stage: int
    index: int
    path: str
    cell: str
    slots: tuple[int, ...]  # graph indices feeding the cell's input slots
    output: int


@dataclass(frozen=True)
class Graph:
    nodes: tuple[LNode, ...]
    blocks: tuple[Block, ...]
    output: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.nodes[0].shape

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.nodes[self.output].shape


# =========================================================================== the genome


@dataclass(frozen=True)
class Genome:
    name: str
    stages: tuple[Stage, ...]
    cells: tuple[tuple[str, Cell], ...] = ()
    input: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    _graph: Graph | None = field(default=None, compare=False, repr=False, init=False)

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise GenomeError("name", "must be a string")
        object.__setattr__(self, "stages", tuple(self.stages))
        cells = self.cells.items() if isinstance(self.cells, Mapping) else self.cells
        object.__setattr__(self, "cells", tuple(sorted(cells)))
        inp = tuple(self.input) if isinstance(self.input, (list, tuple)) else None
        if not inp or len(inp) != 3 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                and v >= 1 for v in inp):
            raise GenomeError("input", f"must be [C, H, W] positive integers, got {self.input!r}")
        object.__setattr__(self, "input", inp)
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 1:
            raise GenomeError("num_classes", f"must be a positive integer, got {self.num_classes!r}")
        if not self.stages:
            raise GenomeError("stages", "a genome needs at least one stage")
        object.__setattr__(self, "_graph", _lower(self))

    # ---------------------------------------------------------------- access
    @property
    def graph(self) -> Graph:
        assert self._graph is not None
        return self._graph

    def cell(self, name: str) -> Cell:
        for k, c in self.cells:
            if k == name:
                return c
        raise GenomeError(f"cells.{name}", "no such cell")

    def with_input(self, shape: Iterable[int]) -> "Genome":
        return replace(self, input=tuple(shape))

    def with_classes(self, k: int) -> "Genome":
        return replace(self, num_classes=k)

    @property
    def hash(self) -> str:
        from nas.hashing import genome_hash
        return genome_hash(self)

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        d: dict = {"name": self.name, "input": list(self.input), "num_classes": self.num_classes}
        if self.cells:
            d["cells"] = {k: c.to_dict() for k, c in self.cells}
        d["stages"] = [s.to_dict() for s in self.stages]
        return d

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_yaml(self) -> str:
        import yaml
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)

    @classmethod
    def from_dict(cls, d: Any) -> "Genome":
        return _genome_from_dict(d)

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise GenomeError("", f"bad JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        return cls.from_dict(d)

    @classmethod
    def from_yaml(cls, text: str) -> "Genome":
        import yaml
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            raise GenomeError("", f"bad YAML{where}: {getattr(e, 'problem', e)}") from None
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str | Path) -> "Genome":
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise GenomeError("", f"cannot read genome file {str(p)!r}: {e.strerror}") from None
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                return cls.from_yaml(text)
            return cls.from_json(text)
        except GenomeError as e:
            raise GenomeError(f"{p.name}:{e.path}" if e.path else p.name, e.message) from None

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(self.to_yaml() if p.suffix.lower() in (".yaml", ".yml") else self.to_json())
        return p


# =========================================================================== from plain data


def _need(d: Any, t: type, where: str, what: str):
    if not isinstance(d, t) or (t is int and isinstance(d, bool)):
        raise GenomeError(where, f"{what} must be {t.__name__ if t is not Mapping else 'an object'}"
                                 f", got {type(d).__name__}")
    return d


def _keys(d: Mapping, allowed: set, where: str):
    extra = set(d) - allowed
    if extra:
        raise GenomeError(where, f"unknown field(s) {', '.join(sorted(map(str, extra)))} "
                                 f"(allowed: {', '.join(sorted(allowed))})")


def _node_from_dict(d: Any, where: str) -> Node:
    _need(d, Mapping, where, "a node")
    _keys(d, {"name", "op", "inputs", "args", "when"}, where)
    for k in ("name", "op"):
        if k not in d:
            raise GenomeError(where, f"node needs {k!r}")
    name = d["name"]
    try:
        return Node(name=name, op=d["op"], inputs=d.get("inputs") or (), args=d.get("args"),
                    when=d.get("when"))
    except GenomeError as e:
        raise GenomeError(f"{where}.{e.path}" if e.path and e.path != name else
                          f"{where}.{name}" if isinstance(name, str) else where, e.message) from None


def _cell_from_dict(d: Any, where: str) -> Cell:
    _need(d, Mapping, where, "a cell")
    _keys(d, {"inputs", "nodes", "output"}, where)
    nodes = _need(d.get("nodes"), list, where + ".nodes", "nodes")
    inputs = d.get("inputs", ["x"])
    _need(inputs, list, where + ".inputs", "inputs")
    try:
        return Cell(nodes=tuple(_node_from_dict(n, f"{where}.nodes[{k}]") for k, n in enumerate(nodes)),
                    inputs=tuple(inputs), output=d.get("output"))
    except GenomeError as e:
        if e.path.startswith(where):
            raise
        raise GenomeError(f"{where}.{e.path}" if e.path else where, e.message) from None


def _genome_from_dict(d: Any) -> Genome:
    _need(d, Mapping, "", "a genome")
    _keys(d, {"name", "input", "num_classes", "cells", "stages"}, "")
    cells = {}
    for k, c in _need(d.get("cells", {}) or {}, Mapping, "cells", "cells").items():
        cells[str(k)] = _cell_from_dict(c, f"cells.{k}")
    stages = []
    for j, s in enumerate(_need(d.get("stages"), list, "stages", "stages")):
        where = f"stages[{j}]"
        _need(s, Mapping, where, "a stage")
        _keys(s, {"name", "cell", "repeat", "out_ch", "stride", "args", "block_name", "start"}, where)
        if "cell" not in s:
            raise GenomeError(where, "stage needs 'cell' (a cell name or an inline cell)")
        cell = s["cell"]
        if isinstance(cell, Mapping):
            cell = _cell_from_dict(cell, f"{where}.cell")
        try:
            stages.append(Stage(name=_need(s.get("name", ""), str, where + ".name", "name"),
                                cell=cell, **{k: s[k] for k in
                                              ("repeat", "out_ch", "stride", "args",
                                               "block_name", "start") if k in s}))
        except GenomeError as e:
            raise GenomeError(where if e.path.startswith("stage ") else f"{where}.{e.path}",
                              e.message) from None
    return Genome(name=_need(d.get("name", "genome"), str, "name", "name"), stages=tuple(stages),
                  cells=tuple(cells.items()), input=d.get("input", (3, 224, 224)),
                  num_classes=d.get("num_classes", 1000))


# =========================================================================== lowering


def _lower(g: Genome) -> Graph:
    cells = dict(g.cells)
    nodes: list[LNode] = [LNode(0, "input", "input", (), {}, (), g.input, -1)]
    blocks: list[Block] = []
    stream: list[int] = [0]
    module_paths: dict[str, str] = {}
    for si, st in enumerate(g.stages):
        where_stage = st.name or f"stages[{si}]"
        if isinstance(st.cell, str):
            if st.cell not in cells:
                raise GenomeError(where_stage, f"unknown cell {st.cell!r} "
                                               f"(cells: {', '.join(cells) or 'none'})")
            cell, cell_name = cells[st.cell], st.cell
        else:
            cell, cell_name = st.cell, ""
        for bi in range(st.repeat):
            bpath = st.block_path(bi)
            slots = tuple(stream[-1 - j] if len(stream) > j else stream[0]
                          for j in range(len(cell.inputs)))
            env: dict[str, Any] = {"i": bi, "n": st.repeat, "s": st.stride if bi == 0 else 1,
                                   "K": g.num_classes}
            if st.out_ch is not None:
                env["C"] = st.out_ch
            for slot, gi in zip(cell.inputs, slots):
                sh = nodes[gi].shape
                env[f"{slot}_c"] = sh[0]
                if len(sh) == 3:
                    env[f"{slot}_h"], env[f"{slot}_w"] = sh[1], sh[2]
            env["cin"] = nodes[slots[0]].shape[0]
            for k, v in st.args:
                env[k] = _eval_value(v, env, f"{where_stage}.args.{k}")
            out = _lower_cell(cell, bpath, env, slots, nodes, len(blocks), module_paths)
            blocks.append(Block(si, bi, bpath, cell_name, slots, out))
            stream.append(out)
    return Graph(tuple(nodes), tuple(blocks), stream[-1])


def _eval_value(v: Any, env: Mapping, where: str) -> Any:
    if isinstance(v, str):
        try:
            return evaluate(v, env)
        except ExprError as e:
            raise GenomeError(where, str(e)) from None
    if isinstance(v, tuple):
        return tuple(_eval_value(x, env, where) for x in v)
    return v


def _live(cell: Cell) -> set[int]:
    idx = {n.name: k for k, n in enumerate(cell.nodes)}
    live: set[int] = set()
    todo = [idx[cell.output]]
    while todo:
        k = todo.pop()
        if k in live:
            continue
        live.add(k)
        todo.extend(idx[s] for s in cell.sources(k) if s in idx)
    return live


_RESOLVED: dict = {}


def _typed(v):
    """A memo key that tells 1, 1.0 and True apart (they are equal as dict keys)."""
    if isinstance(v, tuple):
        return tuple(_typed(x) for x in v)
    return (type(v), v)


def _resolve(spec, raw: dict, in_shapes: tuple) -> tuple[dict, tuple]:
    """An op's checked arguments and output shape (memoised: a search lowers the same few
    op/argument/shape combinations thousands of times)."""
    try:
        key = (spec.name, tuple((k, _typed(v)) for k, v in raw.items()), in_shapes)
        hit = _RESOLVED.get(key)
    except TypeError:                  # an unhashable argument value (a list): no memo
        key = hit = None
    if hit is None:
        args = spec.resolve_args(raw)
        hit = (args, tuple(spec.infer(in_shapes, args)))
        if key is not None:
            if len(_RESOLVED) >= 100_000:
                _RESOLVED.clear()
            _RESOLVED[key] = hit
    return dict(hit[0]), hit[1]


def _lower_cell(cell: Cell, bpath: str, env: dict, slots: tuple[int, ...], nodes: list[LNode],
                block: int, module_paths: dict[str, str]) -> int:
    where = {s: gi for s, gi in zip(cell.inputs, slots)}  # name -> graph index
    live = _live(cell)
    for k in cell.order():
        if k not in live:
            continue  # dead node: pruned, never built, never hashed
        n = cell.nodes[k]
        path = f"{bpath}.{n.name}" if bpath else n.name
        srcs = [where[s] for s in cell.sources(k)]
        if n.when is not None:
            keep = _eval_value(n.when, env, f"{path} (when)")
            if not isinstance(keep, bool):
                raise GenomeError(path, f"'when' must give true/false, got {keep!r}")
            if not keep:
                where[n.name] = srcs[0]
                continue
        spec = OPS.get(n.op)
        raw = {}
        for key, v in n.args:
            kind = spec.params[key].kind
            raw[key] = v if kind == "str" else _eval_value(v, env, f"{path}.{key}")
        in_shapes = tuple(nodes[s].shape for s in srcs)
        try:
            args, shape = _resolve(spec, raw, in_shapes)
        except OpShapeError as e:
            raise GenomeError(path, str(e)) from None
        ln = LNode(len(nodes), path, n.op, tuple(srcs), args, in_shapes, shape, block)
        if ln.module:
            if module_paths.get(path) == "parent":
                raise GenomeError(path, "a layer has the name of a group of layers")
            if path in module_paths:
                raise GenomeError(path, "two layers have this name")
            parts = path.split(".")
            for j in range(1, len(parts)):
                pre = ".".join(parts[:j])
                if module_paths.get(pre) == "leaf":
                    raise GenomeError(path, f"name is inside layer {pre!r}; rename one of them")
                module_paths.setdefault(pre, "parent")
            module_paths[path] = "leaf"
        nodes.append(ln)
        where[n.name] = ln.index
    return where[cell.output]
