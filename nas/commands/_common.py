"""Helpers shared by the subcommands: resolving NAME|FILE, parsing sizes, printing."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.genome import Genome


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    """``"3x227x227"`` -> (3, 227, 227); also accepts ``"227"`` (3 channels, square)."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise NasError(f"--input {text!r}: expected CxHxW, e.g. 3x224x224") from None
    if len(vals) == 1:
        vals = [3, vals[0], vals[0]]
    if len(vals) != 3 or min(vals) < 1:
        raise NasError(f"--input {text!r}: expected CxHxW with positive integers")
    return tuple(vals)  # type: ignore[return-value]


def resolve_genome(ref: str, input: tuple | None = None, classes: int | None = None) -> Genome:
    """A genome from a file path (.json/.yaml) or the name of a classic net."""
    p = Path(ref)
    if p.suffix.lower() in (".json", ".yaml", ".yml") or p.exists():
        if not p.exists():
            raise NasError(f"no genome file {ref!r}")
        g = Genome.load(p)
        if input is not None:
            g = g.with_input(input)
        if classes is not None:
            g = g.with_classes(classes)
        return g
    from search_spaces import get_net
    return get_net(ref, num_classes=classes, input=input)


def add_genome_args(p, classes: bool = True) -> None:
    p.add_argument("genome", metavar="NAME|FILE", help="a classic net name (see `nas nets`) "
                   "or a genome file (.json/.yaml)")
    p.add_argument("--input", metavar="CxHxW", help="input size, e.g. 3x224x224")
    if classes:
        p.add_argument("--classes", type=int, metavar="K", help="number of classes")


def genome_from_args(args) -> Genome:
    if getattr(args, "classes", None) is not None and args.classes < 1:
        raise NasError(f"--classes must be ≥ 1, got {args.classes}")
    return resolve_genome(args.genome, parse_input(args.input), getattr(args, "classes", None))


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


def human(n: float, unit: str = "") -> str:
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suf}{unit}"
    return f"{n:g}{unit}"
