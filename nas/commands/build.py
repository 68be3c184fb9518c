"""``nas build NAME|FILE``: build the network, print its generated code or save it."""
from __future__ import annotations

from nas.commands._common import add_genome_args, genome_from_args

ORDER = 14


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="build a genome into a PyTorch module",
                       description="Build the torch.fx module of a genome; --print-code shows the "
                       "generated forward, --out saves {genome, state_dict} with torch.save.")
    add_genome_args(p)
    p.add_argument("--print-code", action="store_true", help="print the generated forward()")
    p.add_argument("--out", metavar="PATH", help="save {'genome': dict, 'state_dict': …} here")
    p.set_defaults(func=run)


def run(args) -> int:
    g = genome_from_args(args)
    import torch
    from nas.builder import build, count_params
    model = build(g)
    if args.print_code:
        print(model.code.strip())
    if args.out:
        torch.save({"genome": g.to_dict(), "state_dict": model.state_dict()}, args.out)
        print(f"saved {args.out}")
    if not args.print_code:
        print(f"{g.name}: {count_params(model):,} parameters, hash {g.hash}")
    return 0
