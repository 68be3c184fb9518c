"""``nas reproduce NAME|FILE``: build a genome and verify it against its reference."""
from __future__ import annotations

from nas.commands._common import add_genome_args, genome_from_args, print_json
from nas.errors import NasError

ORDER = 22


def add_parser(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="verify a classic net's genome against its reference",
        description="Build the genome and compare it with its reference: for nets torchvision "
        "has, parameter count, conv/linear multiply-adds (FlopCounterMode ÷ 2), a strict "
        "weight transfer and the outputs on a fixed seeded batch in eval mode; for the others, "
        "the published parameter count / multiply-adds and the paper's layer facts. Exits 1 "
        "if any check fails.")
    add_genome_args(p)
    p.add_argument("--reference", metavar="NAME", help="reference to compare with (default: "
                   "the net's own name; needed for a genome file named otherwise)")
    p.add_argument("--weights", metavar="FILE", help="a torchvision checkpoint (state_dict "
                   "saved with torch.save) to load into the genome-built model")
    p.add_argument("--seed", type=int, default=0, help="seed of the test batch and BN statistics")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from search_spaces.reference import reference_kind, verify
    g = genome_from_args(args)
    ref = args.reference or g.name
    if reference_kind(ref) is None and not args.reference:
        raise NasError(f"no reference for genome {g.name!r}: pass --reference NAME "
                       "(see `nas nets`)")
    result = verify(g, ref, weights=args.weights, seed=args.seed)
    if args.json:
        print_json(result.to_dict())
        return 0 if result.ok else 1
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"{g.name}  input {'×'.join(map(str, g.input))}  classes {g.num_classes}",
              caption=f"reference: {result.reference}", caption_justify="left")
    for col in ("check", "reference", "genome", "verdict", "detail"):
        t.add_column(col, overflow="fold")
    for c in result.checks:
        verdict = {True: "[green]ok[/]", False: "[bold red]MISMATCH[/]", None: "skipped"}[c.ok]
        t.add_row(c.name, c.expected, c.measured, verdict, c.detail)
    console = Console(width=max(110, Console().width))
    console.print(t)
    failed = [c.name for c in result.checks if c.ok is False]
    if failed:
        console.print(f"[bold red]{g.name} does not reproduce {ref}[/]: "
                      f"{len(failed)} check(s) failed ({', '.join(failed)})")
        return 1
    console.print(f"[green]{g.name} reproduces {ref}[/]: "
                  f"{sum(c.ok is True for c in result.checks)} checks passed")
    return 0
