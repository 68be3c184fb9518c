"""Tiny safe arithmetic for genome fields: ``"C//4"``, ``"cin*t"``, ``"s != 1 or cin != C"``.

Genome values that depend on where a cell sits (stage width ``C``, stride ``s``, input
channels ``cin``, block index ``i``, stage arguments such as ``t``) are written as expressions
and evaluated during lowering. Only numbers, names, arithmetic, comparisons, boolean logic,
conditional expressions and a few pure functions are allowed.

Evaluation is bounded, so every expression answers in microseconds or raises
:class:`ExprError`: the text is at most :data:`MAX_TEXT` characters and :data:`MAX_NODES`
syntax nodes nested at most :data:`MAX_DEPTH` deep; every operand and result is a number of
magnitude at most :data:`MAX_MAGNITUDE` (floats finite); exponents and ``round`` digits are
at most :data:`MAX_EXPONENT` in magnitude.
"""
from __future__ import annotations

import ast
import functools
import math
import operator
from typing import Any, Mapping

MAX_TEXT = 500
MAX_NODES = 100
MAX_DEPTH = 20
MAX_MAGNITUDE = 10 ** 18
MAX_EXPONENT = 64

_BIN = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMP = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a width to a multiple of ``divisor`` without losing more than 10% (MobileNet)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _round(x, ndigits=None):
    if ndigits is not None and abs(_number(ndigits, "round digits")) > MAX_EXPONENT:
        raise ExprError(f"round digits {ndigits} out of range (at most ±{MAX_EXPONENT})")
    return round(x) if ndigits is None else round(x, ndigits)


_FUNCS = {"int": int, "max": max, "min": min, "round": _round, "ceil": math.ceil,
          "floor": math.floor, "make_divisible": make_divisible, "float": float}


class ExprError(ValueError):
    pass


def _number(v: Any, what: str) -> int | float:
    if not isinstance(v, (int, float)):
        raise ExprError(f"{what} must be a number, got {type(v).__name__}")
    return v


def _checked(v: Any) -> Any:
    """``v`` if it is a bool, a bounded number or a tuple of such; else ExprError."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if -MAX_MAGNITUDE <= v <= MAX_MAGNITUDE:
            return v
        raise ExprError(f"number too large (magnitude above {MAX_MAGNITUDE:.0e})")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ExprError(f"not a finite number ({v})")
        if abs(v) > MAX_MAGNITUDE:
            raise ExprError(f"number too large (magnitude above {MAX_MAGNITUDE:.0e})")
        return v
    if isinstance(v, tuple):
        for x in v:
            _checked(x)
        return v
    raise ExprError(f"expression values must be numbers or booleans, got {type(v).__name__}")


def _binop(op: type, a: Any, b: Any) -> Any:
    sym = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Mod: "%", ast.Pow: "**"}[op]
    _number(a, f"left operand of {sym!r}")
    _number(b, f"right operand of {sym!r}")
    if op is ast.Pow:
        if abs(b) > MAX_EXPONENT:
            raise ExprError(f"exponent {b} out of range (at most ±{MAX_EXPONENT})")
        if a < 0 and isinstance(b, float) and not b.is_integer():
            raise ExprError(f"fractional power of a negative number ({a} ** {b})")
    return _BIN[op](a, b)  # operands ≤ 1e18, exponent ≤ 64: small and fast; checked by caller


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return _checked(node.value)
    if isinstance(node, ast.Name):
        if node.id in env:
            try:
                return _checked(env[node.id])
            except ExprError as e:
                raise ExprError(f"variable {node.id!r}: {e}") from None
        if node.id in ("True", "False"):
            return node.id == "True"
        raise ExprError(f"unknown name {node.id!r} (known: {', '.join(sorted(env))})")
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return _checked(_binop(type(node.op), _eval(node.left, env), _eval(node.right, env)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        v = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not v
        _number(v, "operand of unary '-'/'+'")
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BoolOp):
        vals = (_eval(v, env) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if type(op) not in _CMP:
                raise ExprError(f"comparison {type(op).__name__} is not allowed")
            if not _CMP[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
            and not node.keywords:
        return _checked(_FUNCS[node.func.id](*[_eval(a, env) for a in node.args]))
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        raise ExprError(f"operator {type(node.op).__name__} is not allowed "
                        "(allowed: + - * / // % ** not and or, comparisons)")
    if isinstance(node, ast.Call):
        raise ExprError(f"only calls of {', '.join(_FUNCS)} without keywords are allowed")
    if isinstance(node, ast.Constant):
        raise ExprError(f"{type(node.value).__name__} constants are not allowed (numbers only)")
    raise ExprError(f"{type(node).__name__} syntax is not allowed")


def _show(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "…"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    """The checked syntax tree of ``text`` (cached: lowering evaluates the same few texts in
    every block)."""
    if len(text) > MAX_TEXT:
        raise ExprError(f"expression of {len(text):,} characters is too long "
                        f"(at most {MAX_TEXT}): {_show(text)}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ExprError(f"cannot parse expression {_show(text)}: {e.msg}") from None
    except (MemoryError, RecursionError, ValueError):
        raise ExprError(f"cannot parse expression {_show(text)}") from None
    count, todo = 0, [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise ExprError(f"expression {_show(text)} is too complex (at most {MAX_NODES} terms "
                            f"nested {MAX_DEPTH} deep)")
        todo.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
    return tree


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate ``text`` with the variables of ``env``; raises ExprError with the reason."""
    if not isinstance(text, str):
        raise ExprError(f"an expression must be a string, got {type(text).__name__}")
    tree = _parse(text)
    try:
        return _eval(tree, env)
    except ExprError as e:
        raise ExprError(f"{e} in {_show(text)}") from None
    except ZeroDivisionError:
        raise ExprError(f"division by zero in {_show(text)}") from None
    except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot evaluate {_show(text)}: {e}") from None
