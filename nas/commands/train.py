"""``nas train NAME|FILE|DIR``: train one genome with the search's evaluator (final training).

NAME is a classic net, FILE a genome (.json/.yaml) or a search's ``best.json``, DIR an
experiment directory (its best genome). ``--test`` trains on the whole training split and
reports accuracy on the test split (never used by a search); ``--out`` saves a checkpoint.
"""
from __future__ import annotations

import sys
from pathlib import Path

from nas.commands._common import human, print_json, resolve
from nas.commands.search import add_config_args, config_from_args
from nas.errors import NasError

ORDER = 42


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train one genome with the search's evaluator",
                       description="Train a genome (classic net, genome file, best.json or "
                       "experiment directory) with the same evaluator a search uses, in this "
                       "process (no Ray), and print its metrics.")
    p.add_argument("genome", metavar="NAME|FILE|DIR")
    add_config_args(p, exec_flags=False)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: cuda if "
                   "available")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: all)")
    p.add_argument("--test", action="store_true", help="train on train+val, report the test "
                   "split's accuracy")
    p.add_argument("--out", metavar="PATH", help="save {'genome', 'state_dict', 'metrics'} "
                   "with torch.save")
    p.add_argument("--init-from-search", action="store_true", help="DIR only: start from the "
                   "trained weights the search kept of its best trial (fine-tune / train on) "
                   "instead of a random initialisation")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from evaluators.train import fit_to_data, train_model
    from nas.experiment import load_data
    if args.threads is not None and args.threads < 1:
        raise NasError(f"--threads must be ≥ 1, got {args.threads}")
    base, overrides = config_from_args(args)
    if args.device:
        overrides["device"] = args.device
    cfg = base.replace(**overrides)
    genome, trained = resolve(args.genome)
    init = None
    if args.init_from_search:
        init, how = _search_weights(args.genome, trained)
    data = load_data(cfg, test=args.test)
    print(f"training {genome.name} ({genome.hash[:16]}) on {data.describe()}"
          f"{', from the ' + how if init is not None else ''}", file=sys.stderr)

    def progress(m: dict) -> None:
        if not args.json:
            print(f"epoch {m['epoch']:>3}  train loss {m['train_loss']:.4f}  "
                  f"{data.split.split('/')[1]} loss {m['loss']:.4f}  accuracy "
                  f"{m['accuracy']:.4f}  {m['seconds']:.1f}s", file=sys.stderr)

    model, result = train_model(genome, cfg.budget, data, cfg.seed, cfg.execution.device,
                                recipe=cfg.recipe, callback=progress, threads=args.threads,
                                init=init)
    if args.out and model is not None:
        import torch
        torch.save({"genome": fit_to_data(genome, data).to_dict(),
                    "state_dict": model.state_dict(), "metrics": _plain(result.metrics)},
                   args.out)
    if args.json:
        print_json({"genome": genome.name, "hash": genome.hash, "split": data.split,
                    **result.to_dict()})
        return 0 if result.ok else 1
    if not result.ok:
        print(f"training failed: {result.error}")
        return 1
    m = result.metrics
    which = "test" if args.test else "validation"
    print(f"{genome.name}: {which} accuracy {m['accuracy']:.4f}  loss {m['loss']:.4f}  "
          f"params {human(m['params'])}  FLOPs {human(m['flops'])}  latency "
          f"{m['latency_ms']:.2f} ms  trained {m['train_seconds']:.1f}s ({m['epochs']:g} epochs)")
    if args.out:
        print(f"saved {args.out}")
    return 0


def _search_weights(ref: str, trained) -> tuple[dict, str]:
    """The state_dict of ``--init-from-search`` (one clear error when there is none)."""
    from nas.export import read_state_dict
    p = Path(ref)
    if not (p.is_dir() or p.name == "best.json"):
        raise NasError(f"--init-from-search needs an experiment directory, not {ref!r}")
    if trained is None:
        raise NasError(f"{ref}: the search kept no trained weights of its best trial (only the "
                       f"train evaluator produces weights, and only with keep_weights ≥ 1)")
    return read_state_dict(trained.path, "--init-from-search"), trained.describe()


def _plain(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "history"}
