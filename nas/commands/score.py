"""``nas score NAME|FILE|DIR``: zero-cost proxy scores of one genome (no training)."""
from __future__ import annotations

from nas.commands._common import print_json, resolve_genome
from nas.errors import NasError

ORDER = 38


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="zero-cost proxy scores of a genome (no training)",
                       description="Score an untrained network with zero-cost proxies on one "
                       "seeded batch of the data set's training split, with the time each took. "
                       "Proxies: synflow, naswot, jacob_cov, snip, grad_norm, fisher, and the "
                       "baselines params and flops (cost model, no forward pass).")
    p.add_argument("genome", metavar="NAME|FILE|DIR", help="a classic net, a genome file or an "
                   "experiment directory (its best genome)")
    p.add_argument("--proxy", metavar="P,P", help="proxies to run (default: all)")
    p.add_argument("--dataset", metavar="NAME", default="digits", help="data set of the batch "
                   "(default digits)")
    p.add_argument("--data-dir", metavar="DIR", help="directory of the data set's files")
    p.add_argument("--batch", type=int, default=64, metavar="N", help="batch size (default 64)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="initialisation and batch "
                   "seed (default 0)")
    p.add_argument("--json", action="store_true", help='print {"synflow": float, …}')
    p.set_defaults(func=run)


def run(args) -> int:
    from evaluators.proxies import PROXIES, score
    from nas.config import SearchConfig
    from nas.experiment import load_data
    from evaluators.train import fit_to_data
    names = [s.strip() for s in args.proxy.split(",") if s.strip()] if args.proxy \
        else list(PROXIES)
    for n in names:
        PROXIES.get(n)
    if args.batch < 2:
        raise NasError(f"--batch must be ≥ 2 (naswot and jacob_cov compare samples), got "
                       f"{args.batch}")
    data = load_data(SearchConfig().replace(dataset=args.dataset, data_dir=args.data_dir))
    genome = fit_to_data(resolve_genome(args.genome), data)
    got = score(genome, data, names, seed=args.seed, batch=args.batch)
    if args.json:
        print_json({n: v["value"] for n, v in got.items()})
        return 0
    print(f"{genome.name} ({genome.hash[:16]}) on {data.describe()}, batch {args.batch}, "
          f"seed {args.seed}")
    for n, v in got.items():
        print(f"  {n:<10} {v['value']:>14.6g}   {v['ms']:8.1f} ms")
    return 0
