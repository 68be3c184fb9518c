"""Measurements on built modules used by several test files."""
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas import build


def measured_macs(model: torch.nn.Module, input_shape) -> int:
    """conv/linear multiply-adds of one forward pass, as torch counts them (its FLOPs ÷ 2)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, *input_shape))
    return fc.get_total_flops() // 2


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def built(genome):
    return build(genome)


def val_accuracy(root, pt) -> float:
    """Accuracy of an exported checkpoint on the validation split of experiment ``root``."""
    from nas.experiment import load_data
    from nas.export import load_checkpoint
    from nas.store import ExperimentStore
    s = ExperimentStore.open(root)
    try:
        data = load_data(s.config())
    finally:
        s.close()
    _, model = load_checkpoint(pt)
    model.eval()
    dd = data.to("cpu")
    correct = 0
    with torch.no_grad():
        for x, y in dd.eval_batches(1024):
            correct += int((model(x).argmax(1) == y).sum())
    return correct / len(dd.eval_y)
