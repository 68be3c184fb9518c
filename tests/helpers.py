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
