"""A space's options: one small frozen dataclass per space, with named presets.

Each field's ``metadata["help"]`` is what ``nas spaces --options`` prints. Values may come from
Python, a YAML config or the command line (``--option N=4``, ``--option input=3x224x224``,
``--option widths=16,32,64``), so they are coerced to the type of the field's default. A
``preset`` option, where a space has one, sets several defaults at once (explicit options
still win). An unknown name or a bad value raises :class:`~nas.errors.NasError` naming the
space and the option.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from nas.errors import NasError


def option(default: Any, help: str, choices: tuple | None = None):
    """A dataclass field with a help line (and optionally the allowed values)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def parse_option(text: str) -> tuple[str, str]:
    """``"N=4"`` -> ``("N", "4")`` (the value is coerced later, by the space)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise NasError(f"--option {text!r}: expected NAME=VALUE, e.g. N=4 or input=3x32x32")
    return key.strip(), value.strip()


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


def _coerce(value: Any, default: Any, where: str) -> Any:
    kind = type(default)
    if kind is tuple:
        return _ints(value, where)
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
        raise NasError(f"{where}: expected true/false, got {value!r}")
    if kind is int:
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise NasError(f"{where}: expected an integer, got {value!r}") from None
    if kind is str:
        if not isinstance(value, str):
            raise NasError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def make_options(cls: type, values: Mapping[str, Any], space: str,
                 presets: Mapping[str, Mapping[str, Any]] | None = None):
    """``cls(**values)``: unknown names rejected, values coerced to the defaults' types, and
    the chosen ``preset`` (if the space has presets) applied underneath the given values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise NasError(f"space {space!r}: unknown option(s) {', '.join(unknown)}; "
                       f"options: {', '.join(fields)}")
    merged = dict(values)
    if presets is not None:
        preset = str(values.get("preset", fields["preset"].default))
        if preset not in presets:
            raise NasError(f"space {space!r} option 'preset': {preset!r} is not one of "
                           f"{list(presets)}")
        merged = {**presets[preset], **values, "preset": preset}
    kw = {}
    for name, value in merged.items():
        f = fields[name]
        where = f"space {space!r} option {name!r}"
        v = _coerce(value, f.default, where)
        choices = f.metadata.get("choices")
        if choices and v not in choices:
            raise NasError(f"{where}: {v!r} is not one of {list(choices)}")
        kw[name] = v
    return cls(**kw)


def describe_options(cls: type, presets: Mapping[str, Mapping[str, Any]] | None = None) -> list:
    """``[{"name", "default", "help", "choices"}]`` for listing."""
    out = []
    for f in dataclasses.fields(cls):
        d = {"name": f.name, "default": f.default, "help": f.metadata.get("help", "")}
        if f.metadata.get("choices"):
            d["choices"] = list(f.metadata["choices"])
        if f.name == "preset" and presets:
            d["presets"] = {k: dict(v) for k, v in presets.items()}
        out.append(d)
    return out


def check_io(genome, input: tuple, num_classes: int) -> None:
    """A genome's input size and class count must be the space's (its ``input`` and
    ``num_classes`` options); else :class:`~nas.space.NotInSpaceError` naming the option."""
    from nas.space import NotInSpaceError
    if tuple(genome.input) != tuple(input):
        raise NotInSpaceError(f"option input: the genome takes {'x'.join(map(str, genome.input))}"
                              f", the space {'x'.join(map(str, input))}")
    if genome.num_classes != num_classes:
        raise NotInSpaceError(f"option num_classes: the genome has {genome.num_classes} classes, "
                              f"the space {num_classes}")
