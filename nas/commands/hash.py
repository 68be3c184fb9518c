"""``nas hash NAME|FILE``: the canonical, isomorphism-invariant genome hash."""
from __future__ import annotations

from nas.commands._common import add_genome_args, genome_from_args

ORDER = 12


def add_parser(sub) -> None:
    p = sub.add_parser("hash", help="canonical hash of a genome")
    add_genome_args(p)
    p.set_defaults(func=lambda a: print(genome_from_args(a).hash) or 0)
