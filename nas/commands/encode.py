"""``nas encode --space S NAME|FILE``: the assignment of a genome in a space, or which
decision cannot express it (one line, exit status 2)."""
from __future__ import annotations

from nas.commands._common import add_genome_args, genome_from_args, print_json
from nas.commands.spaces import add_space_option, space_from_args

ORDER = 34


def add_parser(sub) -> None:
    p = sub.add_parser("encode", help="the assignment of a genome in a search space",
                       description="Encode a classic net or a genome file as an assignment of "
                       "the space's decisions (decoding it gives a network with the same hash). "
                       "A genome outside the space is reported as `not in this space: <the "
                       "decision or option that fails>` with exit status 2.")
    p.add_argument("--space", required=True, metavar="S", help="a space name (see `nas spaces`)")
    add_genome_args(p)
    add_space_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from nas.space import NotInSpaceError
    space = space_from_args(args.space, args.option)
    genome = genome_from_args(args)
    try:
        a = space.encode_strict(genome)
    except NotInSpaceError as e:
        raise NotInSpaceError(f"not in this space: {e}{_hint(args, genome)}") from None
    if args.json:
        print_json({"space": space.name, "genome": genome.name, "hash": genome.hash,
                    "assignment": a})
        return 0
    print(f"# {genome.name} in {space.name} (hash {genome.hash})")
    width = max(len(k) for k in a)
    for k, v in a.items():
        print(f"{k:<{width}}  {v}")
    return 0


def _hint(args, genome) -> str:
    """If another preset of the space holds the genome, say which."""
    if any(o.split("=", 1)[0].strip() == "preset" for o in args.option):
        return ""
    from nas.errors import NasError
    from search_spaces import SPACES
    cls = SPACES.get(args.space)
    for preset in getattr(cls, "PRESETS", {}):
        try:
            space = space_from_args(args.space, [*args.option, f"preset={preset}"])
        except NasError:  # a preset the other options do not fit
            continue
        if space.encode(genome) is not None:
            return f" (it is in --option preset={preset})"
    return ""
