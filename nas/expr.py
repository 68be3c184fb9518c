"""Tiny safe arithmetic for genome fields: ``"C//4"``, ``"cin*t"``, ``"s != 1 or cin != C"``.

Genome values that depend on where a cell sits (stage width ``C``, stride ``s``, input
channels ``cin``, block index ``i``, stage arguments such as ``t``) are written as expressions
and evaluated during lowering. Only numbers, names, arithmetic, comparisons, boolean logic,
conditional expressions and a few pure functions are allowed.
"""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Mapping

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


_FUNCS = {"int": int, "max": max, "min": min, "round": round, "ceil": math.ceil,
          "floor": math.floor, "make_divisible": make_divisible, "float": float}


class ExprError(ValueError):
    pass


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in ("True", "False"):
            return node.id == "True"
        raise ExprError(f"unknown name {node.id!r} (known: {', '.join(sorted(env))})")
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return _BIN[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else (+v if isinstance(node.op, ast.UAdd) else not v)
    if isinstance(node, ast.BoolOp):
        vals = (_eval(v, env) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if type(op) not in _CMP or not _CMP[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
            and not node.keywords:
        return _FUNCS[node.func.id](*[_eval(a, env) for a in node.args])
    raise ExprError(f"not allowed in an expression: {ast.dump(node)[:60]}")


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate ``text`` with the variables of ``env``; raises ExprError with the reason."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ExprError(f"cannot parse expression {text!r}: {e.msg}") from None
    try:
        return _eval(tree, env)
    except ZeroDivisionError:
        raise ExprError(f"division by zero in {text!r}") from None
