"""A controller's options: one small dataclass per controller, checked and listed from one place.

Each field's ``metadata["help"]`` is what ``nas controllers`` prints. Values may come from Python,
a YAML config or the command line (strings), so they are coerced to the default's type; an
unknown name or a bad value raises :class:`~nas.errors.NasError` naming the controller and option.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from nas.errors import NasError


def option(default: Any, help: str, choices: tuple | None = None):
    """A dataclass field with a help line (and optionally the allowed values)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For controllers without options."""


def _coerce(value: Any, default: Any, where: str) -> Any:
    if default is None or value is None:
        return value
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise NasError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    return value


def make_options(cls: type, values: Mapping[str, Any], controller: str):
    """``cls(**values)`` with unknown names rejected and values coerced to the defaults' types."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise NasError(f"controller {controller!r}: unknown option(s) {unknown}; options: {known}")
    kw = {}
    for name, value in values.items():
        f = fields[name]
        where = f"controller {controller!r} option {name!r}"
        v = _coerce(value, f.default, where)
        choices = f.metadata.get("choices")
        if choices and v not in choices:
            raise NasError(f"{where}: {v!r} is not one of {list(choices)}")
        kw[name] = v
    return cls(**kw)


def describe_options(cls: type) -> list[dict]:
    """``[{"name", "default", "type", "help", "choices"}]`` for listing."""
    out = []
    for f in dataclasses.fields(cls):
        d = {"name": f.name, "default": f.default, "type": type(f.default).__name__
             if f.default is not None else "any", "help": f.metadata.get("help", "")}
        if f.metadata.get("choices"):
            d["choices"] = list(f.metadata["choices"])
        out.append(d)
    return out
