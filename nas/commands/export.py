"""``nas export DIR|NAME|FILE --format pt|torchscript|onnx|py --out PATH``."""
from __future__ import annotations

import argparse
from pathlib import Path

from nas.commands._common import parse_input, resolve
from nas.errors import NasError

ORDER = 60


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a genome's network (checkpoint, TorchScript, ONNX, .py)",
                       description="Export the best genome of an experiment directory (with "
                       "the trained weights of its best trial when the search kept them), or a "
                       "named/file genome, as a state-dict checkpoint (pt), TorchScript, ONNX or a "
                       "standalone Python module that needs only torch (py).")
    p.add_argument("source", metavar="DIR|NAME|FILE")
    p.add_argument("--format", required=True, choices=("pt", "torchscript", "onnx", "py"))
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--weights", metavar="CKPT", help="a checkpoint from `nas train --out` / "
                   "`nas build --out` / `nas export --format pt` to take the weights from")
    p.add_argument("--optimize", action=argparse.BooleanOptionalAction, default=None,
                   help="for inference: eval mode, conv+BN folded, dropout removed, residual "
                   "adds in place, channels-last weights, TorchScript frozen (default: on for "
                   "torchscript and onnx, off for py; never for pt, which reloads into the "
                   "genome's network)")
    p.add_argument("--input", metavar="CxHxW")
    p.add_argument("--classes", type=int, metavar="K")
    p.add_argument("--option", "-o", action="append", default=[], metavar="K=V",
                   help="DIR only: re-decode the best network in its space with these space "
                   "options (e.g. -o preset=mobile: the found cells at NASNet-A mobile's scale)")
    p.set_defaults(func=run)


def run(args) -> int:
    from nas.export import export, load_checkpoint
    if args.option:
        return _at_scale(args)
    genome, trained = resolve(args.source, parse_input(args.input), args.classes)
    weights = args.weights or (trained.path if trained else None)
    state = None
    if weights:
        g2, model = load_checkpoint(weights)
        if g2.hash != genome.hash:
            raise NasError(f"--weights {weights!r} holds genome {g2.name} ({g2.hash}), "
                           f"not {genome.name} ({genome.hash})")
        state = model.state_dict()
    changes = []
    files = export(genome, args.format, args.out, state, optimize=args.optimize,
                   on_optimized=changes.append)
    how = f" with weights from {weights}" if args.weights else \
        f" ({trained.describe()})" if trained else " (untrained weights)"
    print(f"exported {genome.name} ({genome.hash}) as {args.format}{how}"
          f"{', ' + changes[0].describe() if changes else ''}: " + ", ".join(map(str, files)))
    return 0


def _at_scale(args) -> int:
    from pathlib import Path as _P
    from nas.commands._common import human
    from nas.experiment import best_at_scale
    from nas.export import export
    from nas.options import parse_pairs
    if not _P(args.source).is_dir():
        raise NasError("--option re-decodes the best network of an experiment DIR; "
                       f"{args.source!r} is not a directory")
    if args.weights:
        raise NasError("--option builds the network at another scale: trained weights of the "
                       "original do not fit it; drop --weights")
    r = best_at_scale(args.source, parse_pairs(args.option, "--option"))
    g, c = r["genome"], r["cost"]
    files = export(g, args.format, args.out, None, optimize=args.optimize)
    print(f"the best network of {args.source} with {' '.join(args.option)}: "
          f"{human(c['params'])} params, {human(c['flops'])} mult-adds"
          + "".join(f"; {n}: {human(k['params'])} params, {human(k['flops'])} mult-adds"
                    for n, k in r["classics"].items()))
    if r["dropped"]:
        print(f"note: decisions these options do not have were ignored: {', '.join(r['dropped'])}")
    print(f"exported (untrained weights): {', '.join(map(str, files))}")
    return 0
