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
    p.set_defaults(func=run)


def run(args) -> int:
    from nas.export import export, load_checkpoint
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
