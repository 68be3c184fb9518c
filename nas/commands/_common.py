"""Helpers shared by the subcommands: resolving NAME|FILE, parsing sizes, printing."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from nas.config import parse_shape
from nas.errors import NasError
from nas.fmt import human  # noqa: F401  (the one number formatter, used by every command)
from nas.genome import Genome


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    """``"3x227x227"`` -> (3, 227, 227); None stays None (see :func:`nas.config.parse_shape`)."""
    return None if text is None else parse_shape(text)


def resolve(ref: str, input: tuple | None = None, classes: int | None = None):
    """(genome, trained weights or None) from any way a user names a network: a classic net
    NAME, a genome FILE (.json/.yaml), or an experiment DIR (or its best.json): its best genome,
    with its trained weights (:class:`nas.report.TrainedWeights`) when the search kept them."""
    p = Path(ref)
    ckpt = None
    if p.is_dir() or (p.name == "best.json" and p.is_file()):
        from nas.report import best_genome_of
        g, ckpt = best_genome_of(p if p.is_dir() else p.parent)
    elif p.suffix.lower() in (".json", ".yaml", ".yml") or p.exists():
        if not p.exists():
            raise NasError(f"no genome file {ref!r}")
        g = Genome.load(p)
    elif "/" in ref or ref.startswith("."):      # a path, not a net name
        raise NasError(f"no experiment directory or genome file {ref!r}")
    else:
        from search_spaces import get_net
        return get_net(ref, num_classes=classes, input=input), None
    if input is not None:
        g = g.with_input(input)
    if classes is not None:
        g = g.with_classes(classes)
    return g, ckpt


def resolve_genome(ref: str, input: tuple | None = None, classes: int | None = None) -> Genome:
    """The genome of :func:`resolve`."""
    return resolve(ref, input, classes)[0]


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


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1 (the one rule for --top, --trials, --n …)."""
    import argparse
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {v}")
    return v


def print_parts(parts: list[dict], flag: str) -> None:
    """One table per pluggable part (controller, evaluator): its options, defaults and help."""
    from rich.console import Console
    from rich.table import Table
    console = Console()
    for c in parts:
        t = Table(title=f"[bold]{c['name']}[/bold] — {c['description']}", title_justify="left")
        for col in ("option", "default", "help"):
            t.add_column(col)
        for o in c["options"]:
            extra = f" (one of {', '.join(map(str, o['choices']))})" if o.get("choices") else ""
            t.add_row(o["name"], repr(o["default"]), o["help"] + extra)
        if not c["options"]:
            t.add_row("-", "", "no options")
        console.print(t)
    console.print(f"set options with {flag} NAME=VALUE (repeatable)")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
