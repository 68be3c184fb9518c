"""The ``nas`` command line. Each subcommand lives in ``nas/commands/<name>.py`` and exposes
``add_parser(subparsers)``; the parser's ``func(args) -> int`` runs it.

User mistakes (:class:`nas.errors.NasError`) print one line ``nas: error: …`` and exit 2; no
traceback. ``NAS_DEBUG=1`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from nas import __version__
from nas.errors import NasError


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nas", description="Neural architecture search for PyTorch: describe CNNs as "
        "genomes, inspect their cost, search spaces of them with controllers on Ray.")
    p.add_argument("--version", action="version", version=f"nas {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    import nas.commands as pkg
    mods = [importlib.import_module(f"nas.commands.{m.name}")
            for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    for mod in sorted(mods, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from nas.interrupt import term_as_interrupt
    term_as_interrupt()
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NasError as e:
        if os.environ.get("NAS_DEBUG"):
            raise
        print(f"nas: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
