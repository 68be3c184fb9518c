"""Options of pluggable parts (spaces, controllers): one small frozen dataclass per part.

Each field's ``metadata["help"]`` is what ``nas spaces`` / ``nas controllers`` print. Values may
come from Python, a YAML config or the command line (strings: ``--option N=4``,
``--option input=3x224x224``, ``--controller-option population=8``), so they are coerced to the
type of the field's default. A ``preset`` option, where a part has presets, sets several
defaults at once (explicit options still win). An unknown name or a bad value raises
:class:`~nas.errors.NasError` naming the part and the option.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from nas.errors import NasError


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For parts without options."""


def parse_pairs(items: list[str], flag: str) -> dict:
    """``["N=4", "input=3x32x32"]`` -> ``{"N": "4", "input": "3x32x32"}``: the one parser of
    ``NAME=VALUE`` flags (values stay strings; the part they are for coerces them)."""
    out = {}
    for text in items:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise NasError(f"{flag} {text!r}: expected NAME=VALUE, e.g. N=4")
        out[key.strip()] = value.strip()
    return out


def option(default: Any, help: str, choices: tuple | None = None):
    """A dataclass field with a help line (and optionally the allowed values)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def _ints(value: Any, where: str) -> tuple:
    if isinstance(value, str):
        parts = [p for p in value.lower().replace("×", "x").replace("x", ",").split(",") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise NasError(f"{where}: expected integers like 16,32,64 or 3x32x32, "
                           f"got {value!r}") from None
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise NasError(f"{where}: expected a list of integers, got {value!r}")


_NAMES = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}


def coerce(value: Any, default: Any, where: str) -> Any:
    """``value`` converted to the type of ``default`` (None defaults accept anything)."""
    if default is None or value is None:
        return value
    kind = type(default)
    if kind is tuple:
        return _ints(value, where)
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
        raise NasError(f"{where}: expected {_NAMES[kind]}, got {value!r}") from None
    return value


def make_options(cls: type, values: Mapping[str, Any], owner: str,
                 presets: Mapping[str, Mapping[str, Any]] | None = None):
    """``cls(**values)``: unknown names rejected, values coerced to the defaults' types, and
    the chosen ``preset`` (if ``presets`` are given) applied underneath the given values.
    ``owner`` names the part in messages, e.g. ``"space 'blocks'"``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise NasError(f"{owner}: unknown option(s) {', '.join(unknown)}; "
                       f"options: {', '.join(fields) or 'none'}")
    merged = dict(values)
    if presets is not None:
        preset = str(values.get("preset", fields["preset"].default))
        if preset not in presets:
            raise NasError(f"{owner} option 'preset': {preset!r} is not one of {list(presets)}")
        merged = {**presets[preset], **values, "preset": preset}
    kw = {}
    for name, value in merged.items():
        f = fields[name]
        where = f"{owner} option {name!r}"
        v = coerce(value, f.default, where)
        choices = f.metadata.get("choices")
        if choices and v not in choices:
            raise NasError(f"{where}: {v!r} is not one of {list(choices)}")
        kw[name] = v
    return cls(**kw)


def describe_options(cls: type, presets: Mapping[str, Mapping[str, Any]] | None = None) -> list:
    """``[{"name", "default", "type", "help", "choices", "presets"}]`` for listing."""
    out = []
    for f in dataclasses.fields(cls):
        d = {"name": f.name, "default": f.default,
             "type": type(f.default).__name__ if f.default is not None else "any",
             "help": f.metadata.get("help", "")}
        if f.metadata.get("choices"):
            d["choices"] = list(f.metadata["choices"])
        if f.name == "preset" and presets:
            d["presets"] = {k: dict(v) for k, v in presets.items()}
        out.append(d)
    return out
