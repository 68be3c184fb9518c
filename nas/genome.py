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

Sizes are bounded so that any input is refused in one line instead of hanging: genome files
up to :data:`MAX_FILE_BYTES` (YAML :data:`MAX_YAML_BYTES`) nested at most :data:`MAX_NESTING`
deep, at most :data:`MAX_NODES` lowered nodes, numbers up to :data:`MAX_INT`, feature maps up
to :data:`MAX_DIM` channels and :data:`MAX_SPATIAL` pixels a side. Lowering is linear in the
size of the network.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from nas.errors import GenomeError
from nas.expr import MAX_MAGNITUDE, ExprError, evaluate
from nas.ops import OPS, OpShapeError

MAX_FILE_BYTES = 64 << 20     # a genome file; more is refused before parsing
MAX_YAML_BYTES = 16 << 20     # YAML parses ~50× slower than JSON
MAX_NESTING = 32              # lists/mappings inside each other in a genome document
MAX_VALUES = 5_000_000        # values in a genome document (YAML aliases can multiply them)
MAX_NODES = 100_000           # lowered nodes of a network (cell nodes × repeats)
MAX_WORK = 10 * MAX_NODES     # node inputs, cell slots and stage arguments × repeats
MAX_INT = MAX_MAGNITUDE       # any number in a genome
MAX_DIM = 10 ** 12            # any dimension of a feature map (channels, features)
MAX_SPATIAL = 1 << 17         # height and width of a feature map
MAX_NAME = 256                # characters of a node, stage or block name

_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")
_BLOCK_NAME = re.compile(r"^(?:[^{}]|\{i\})*$")
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


def _short(v: Any, n: int = 60) -> str:
    """``repr(v)``, cut to about ``n`` characters (error messages stay one short line)."""
    if isinstance(v, (str, bytes, list, tuple, dict)) and len(v) > n:
        v = v[:n] if not isinstance(v, dict) else f"<mapping of {len(v)} items>"
        return repr(v)[:n] + "…"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10 ** 15:
        try:
            return f"{v:.3g}"
        except OverflowError:
            return f"≈2^{v.bit_length()}"
    r = repr(v)
    return r if len(r) <= n else r[:n] + "…"


def _clip(text: str, n: int = 100) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _check_number(x: Any, where: str) -> None:
    if isinstance(x, float) and not math.isfinite(x):
        raise GenomeError(where, f"expected a finite number, got {x}")
    if isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) > MAX_INT:
        raise GenomeError(where, f"number {_short(x)} is too large (at most {MAX_INT:.0e})")


def _check_value(x: Any, where: str, depth: int = 0) -> None:
    if isinstance(x, (list, tuple)):
        if depth >= 4:
            raise GenomeError(where, "lists nested too deeply (a value is a number, a string or "
                                     "a short list of them)")
        for j, y in enumerate(x):
            _check_value(y, f"{where}[{j}]", depth + 1)
    elif not isinstance(x, (int, float, str, bool)) and x is not None:
        raise GenomeError(where, f"expected a number, string or list, got {type(x).__name__}")
    else:
        _check_number(x, where)


def _check_path(name: str, where: str) -> None:
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise GenomeError(where, f"name of {len(name):,} characters is too long (at most "
                                 f"{MAX_NAME}): {_short(name, 40)}")
    if not isinstance(name, str) or not name or not all(_SEGMENT.match(s) for s in name.split(".")):
        raise GenomeError(where, f"bad name {_short(name)}: use dot-separated identifiers or "
                                 "numbers (e.g. 'conv1', 'downsample.0')")


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
        object.__setattr__(self, "_order", self.order())  # raises on a cycle; kept for lowering

    def sources(self, k: int) -> tuple[str, ...]:
        """The real inputs of node k (an empty ``inputs`` means the previous node)."""
        n = self.nodes[k]
        if n.inputs:
            return n.inputs
        return (self.nodes[k - 1].name,) if k else (self.inputs[0],)

    def order(self) -> list[int]:
        """Node indices in a topological order (stable: depth-first, dependencies in input
        order); raises GenomeError on a cycle. Iterative and linear, for cells of any depth."""
        idx = {n.name: k for k, n in enumerate(self.nodes)}
        deps = [[idx[s] for s in self.sources(k) if s in idx] for k in range(len(self.nodes))]
        state = [0] * len(self.nodes)          # 0 new, 1 on the stack, 2 done
        out: list[int] = []
        for root in range(len(self.nodes)):
            if state[root]:
                continue
            state[root] = 1
            stack = [[root, 0]]
            while stack:
                top = stack[-1]
                k, j = top
                if j == len(deps[k]):
                    stack.pop()
                    state[k] = 2
                    out.append(k)
                    continue
                top[1] = j + 1
                d = deps[k][j]
                if state[d] == 1:
                    trail = [t[0] for t in stack]
                    cyc = trail[trail.index(d):] + [d]
                    names = [self.nodes[c].name for c in cyc]
                    text = " -> ".join(names if len(names) <= 12 else
                                       names[:5] + [f"… ({len(names) - 10} more)"] + names[-5:])
                    raise GenomeError(self.nodes[d].name, "cycle: " + text)
                if state[d] == 0:
                    state[d] = 1
                    stack.append([d, 0])
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
                raise GenomeError(where, f"{f} must be an integer ≥ {lo}, got {_short(v)}")
            if v > MAX_INT:
                raise GenomeError(where, f"{f} {_short(v)} is too large (at most {MAX_INT:.0e})")
        if self.out_ch is not None and (isinstance(self.out_ch, bool) or not isinstance(
                self.out_ch, int) or self.out_ch < 1):
            raise GenomeError(where, f"out_ch must be a positive integer, got "
                                     f"{_short(self.out_ch)}")
        if self.out_ch is not None and self.out_ch > MAX_DIM:
            raise GenomeError(where, f"out_ch {_short(self.out_ch)} is too large "
                                     f"(at most {MAX_DIM:.0e})")
        if not isinstance(self.cell, (str, Cell)):
            raise GenomeError(where, "cell must be a cell name or a cell")
        if not isinstance(self.block_name, str):
            raise GenomeError(where, "block_name must be a string")
        if not _BLOCK_NAME.match(self.block_name):
            raise GenomeError(where, f"block_name {_short(self.block_name)} may only hold "
                                     "text and '{i}' (the block index)")
        if self.block_name == "" and self.repeat != 1:
            raise GenomeError(where, "an unnamed block (block_name '') can only be used once")
        if self.block_path(0):
            _check_path(self.block_path(0), where + ".block_name")

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
            raise GenomeError("input", f"must be [C, H, W] positive integers, got "
                                       f"{_short(self.input)}")
        if inp[0] > MAX_DIM or max(inp[1:]) > MAX_SPATIAL:
            raise GenomeError("input", f"{_short(inp)} is too large (at most {MAX_DIM:.0e} "
                                       f"channels and {MAX_SPATIAL:,} pixels a side)")
        object.__setattr__(self, "input", inp)
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 1:
            raise GenomeError("num_classes", f"must be a positive integer, got "
                                             f"{_short(self.num_classes)}")
        if self.num_classes > MAX_DIM:
            raise GenomeError("num_classes", f"{_short(self.num_classes)} is too large "
                                             f"(at most {MAX_DIM:.0e})")
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
        _check_document(d)
        return _genome_from_dict(d)

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        _check_text(text, MAX_FILE_BYTES, "JSON")
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise GenomeError("", f"bad JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
        except RecursionError:
            raise GenomeError("", f"bad JSON: nested too deeply (a genome is at most "
                                  f"{MAX_NESTING} levels deep)") from None
        except (ValueError, MemoryError) as e:    # e.g. an integer of more than 4300 digits
            raise GenomeError("", f"bad JSON: {_clip(str(e))}") from None
        return cls.from_dict(d)

    @classmethod
    def from_yaml(cls, text: str) -> "Genome":
        import yaml
        _check_text(text, MAX_YAML_BYTES, "YAML")
        try:  # libyaml when available: fast, and it refuses absurd nesting by itself
            d = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or e
            raise GenomeError("", f"bad YAML{where}: {_clip(str(problem))}") from None
        except RecursionError:
            raise GenomeError("", f"bad YAML: nested too deeply (a genome is at most "
                                  f"{MAX_NESTING} levels deep)") from None
        except (ValueError, TypeError, ArithmeticError, MemoryError) as e:
            raise GenomeError("", f"bad YAML: {_clip(str(e))}") from None
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str | Path) -> "Genome":
        """Read a genome file (``.yaml``/``.yml``: YAML, else JSON); every problem with the file
        is one GenomeError naming it."""
        p = Path(path)
        try:
            with open(p, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise GenomeError("", f"cannot read genome file {str(p)!r}: "
                                  f"{e.strerror or type(e).__name__}") from None
        text = _decode(data, p.name or str(p))
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
        shown = [k[:30] for k in sorted(map(str, extra))[:5]]
        more = f" and {len(extra) - 5:,} more" if len(extra) > 5 else ""
        raise GenomeError(where, f"unknown field(s) {', '.join(shown)}{more} "
                                 f"(allowed: {', '.join(sorted(allowed))})")


def _decode(data: bytes, name: str) -> str:
    """The text of a genome file's bytes, or a GenomeError naming the file."""
    if len(data) > MAX_FILE_BYTES:
        raise GenomeError(name, f"file is larger than {MAX_FILE_BYTES >> 20} MB; a genome file "
                                "is JSON or YAML text")
    if b"\0" in data:
        raise GenomeError(name, "not a text file (it holds NUL bytes); a genome file is JSON or "
                                "YAML text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise GenomeError(name, f"not a UTF-8 text file (byte 0x{data[e.start]:02x} at offset "
                                f"{e.start:,}); a genome file is JSON or YAML text") from None


def _check_text(text: Any, limit: int, what: str) -> None:
    if not isinstance(text, str):
        raise GenomeError("", f"{what} genome must be text (str), got {type(text).__name__}")
    if len(text) > limit:
        raise GenomeError("", f"{what} text of {len(text):,} characters is too large "
                              f"(at most {limit >> 20} MB)")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _check_document(d: Any) -> None:
    """Refuse documents nested too deeply or holding too many values, before walking them
    recursively (iterative; also stops self-referencing and alias-multiplied documents)."""
    count, todo = 0, [(d, 0)]
    while todo:
        v, depth = todo.pop()
        count += 1
        if count > MAX_VALUES:
            raise GenomeError("", f"document holds more than {MAX_VALUES:,} values (YAML "
                                  "aliases?); too large for a genome")
        t = type(v)
        if t in _SCALARS:
            continue
        if t is dict or t is list or isinstance(v, (Mapping, list, tuple)):
            if depth >= MAX_NESTING:
                raise GenomeError("", f"nested more than {MAX_NESTING} levels deep; a genome "
                                      "is a mapping of stages, cells, nodes and arguments")
            items = v.values() if isinstance(v, Mapping) else v
            todo.extend((x, depth + 1) for x in items)


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
            own = f"stage {s.get('name', '')!r}"   # Stage's own name for itself -> stages[j]
            raise GenomeError(where + e.path[len(own):] if e.path.startswith(own) else
                              where if e.path.startswith("stage ") else f"{where}.{e.path}",
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
    plans: dict[int, tuple] = {}
    total_nodes = total_work = 0
    for si, st in enumerate(g.stages):
        where_stage = st.name or f"stages[{si}]"
        if isinstance(st.cell, str):
            if st.cell not in cells:
                raise GenomeError(where_stage, f"unknown cell {st.cell!r} "
                                               f"(cells: {', '.join(cells) or 'none'})")
            cell, cell_name = cells[st.cell], st.cell
        else:
            cell, cell_name = st.cell, ""
        plan = plans.get(id(cell))
        if plan is None:
            plan = plans[id(cell)] = _plan(cell)
        n_live, work = len(plan[1]), st.repeat * (plan[2] + len(st.args))
        total_nodes += st.repeat * n_live
        total_work += work
        if total_nodes > MAX_NODES:
            raise GenomeError(where_stage, f"{st.repeat:,} blocks × {n_live} nodes: "
                                           f"{total_nodes:,} nodes so far, more than the limit of "
                                           f"{MAX_NODES:,} for a network")
        if total_work > MAX_WORK:
            raise GenomeError(where_stage, f"{st.repeat:,} blocks × {work // st.repeat:,} node "
                                           "inputs, cell slots and stage arguments: more than the "
                                           f"limit of {MAX_WORK:,} for a network")
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
            out = _lower_cell(cell, plan, bpath, env, slots, nodes, len(blocks), module_paths)
            blocks.append(Block(si, bi, bpath, cell_name, slots, out))
            stream.append(out)
    return Graph(tuple(nodes), tuple(blocks), stream[-1])


def _check_shape(shape: tuple, path: str) -> None:
    if any(not isinstance(d, int) or d < 1 for d in shape):
        raise GenomeError(path, f"output shape {_short(shape)} has an empty dimension")
    if any(d > MAX_DIM for d in shape) or (len(shape) == 3 and max(shape[1:]) > MAX_SPATIAL):
        raise GenomeError(path, f"output {'×'.join(map(str, shape))} is too large (at most "
                                f"{MAX_DIM:.0e} channels or features, {MAX_SPATIAL:,} pixels "
                                "a side)")


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


def _plan(cell: Cell) -> tuple[list[int], set[int], int]:
    """How to lower every use of ``cell``: its live nodes in topological order, the live set,
    and the work of one use (live nodes + their inputs + input slots)."""
    live = _live(cell)
    # dead nodes are pruned: never built, never hashed
    order = [k for k in cell.__dict__.get("_order") or cell.order() if k in live]
    work = len(cell.inputs) + sum(1 + len(cell.sources(k)) for k in order)
    return order, live, work


def _lower_cell(cell: Cell, plan: tuple, bpath: str, env: dict, slots: tuple[int, ...],
                nodes: list[LNode], block: int, module_paths: dict[str, str]) -> int:
    where = {s: gi for s, gi in zip(cell.inputs, slots)}  # name -> graph index
    for k in plan[0]:
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
        except ZeroDivisionError:
            raise GenomeError(path, f"op {n.op!r}: division by zero (a stride, kernel or size "
                                    f"of 0?) with arguments {_short(raw, 100)}") from None
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError) as e:
            raise GenomeError(path, f"op {n.op!r}: invalid arguments {_short(raw, 100)}: "
                                    f"{_clip(str(e))}") from None
        _check_shape(shape, path)
        ln = LNode(len(nodes), path, n.op, tuple(srcs), args, in_shapes, shape, block)
        if ln.module:
            if module_paths.get(path) == "parent":
                raise GenomeError(path, "a layer has the name of a group of layers")
            if path in module_paths:
                raise GenomeError(path, "two layers have this name")
            # every prefix of a "parent" is a "parent" already: stop at the first one (linear)
            pre = path
            while "." in pre:
                pre = pre[:pre.rindex(".")]
                kind = module_paths.get(pre)
                if kind == "parent":
                    break
                if kind == "leaf":
                    raise GenomeError(path, f"name is inside layer {pre!r}; rename one of them")
                module_paths[pre] = "parent"
            module_paths[path] = "leaf"
        nodes.append(ln)
        where[n.name] = ln.index
    return where[cell.output]
