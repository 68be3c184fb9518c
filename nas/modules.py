"""Torch modules for the composite primitives (separable/factorized conv, SE, shuffle, zero)
and the functions the generated ``forward`` calls. Imports only torch, so an exported
standalone model file can embed this source unchanged."""
import torch
import torch.nn as nn


class SeparableConv2d(nn.Module):
    """Depthwise k×k then pointwise 1×1 (no activation between, as in Xception/NASNet)."""

    output_conv = "pointwise"        # the conv whose output is the module's (BN folds into it)

    def __init__(self, in_ch, out_ch, kernel, stride, padding, dilation, bias):
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel, stride, padding, dilation, in_ch,
                                   bias=bias)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class FactorizedConv2d(nn.Module):
    """1×n conv then n×1 conv (Inception-v3 / NASNet factorisation)."""

    output_conv = "conv_nx1"

    def __init__(self, in_ch, out_ch, n, stride, bias):
        super().__init__()
        self.conv_1xn = nn.Conv2d(in_ch, out_ch, (1, n), (1, stride), (0, n // 2), bias=bias)
        self.conv_nx1 = nn.Conv2d(out_ch, out_ch, (n, 1), (stride, 1), (n // 2, 0), bias=bias)

    def forward(self, x):
        return self.conv_nx1(self.conv_1xn(x))


class SqueezeExcite(nn.Module):
    """x · gate(fc2(act(fc1(mean_hw(x))))) — parameter names as torchvision's SqueezeExcitation."""

    def __init__(self, ch, squeeze_ch, act, gate):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeeze_ch, 1)
        self.fc2 = nn.Conv2d(squeeze_ch, ch, 1)
        self.activation = {"relu": nn.ReLU(), "silu": nn.SiLU()}[act]
        self.scale_activation = {"sigmoid": nn.Sigmoid(), "hardsigmoid": nn.Hardsigmoid()}[gate]

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * self.scale_activation(self.fc2(self.activation(self.fc1(s))))


class ChannelShuffle(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2)
        return x.reshape(n, c, h, w)


class Zero(nn.Module):
    def __init__(self, stride, out_ch):
        super().__init__()
        self.stride, self.out_ch = stride, out_ch

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        if self.out_ch is not None and self.out_ch != x.shape[1]:
            return x.new_zeros(x.shape[0], self.out_ch, x.shape[2], x.shape[3])
        return x.mul(0.0)


class Join(nn.Module):
    """FractalNet join: the mean of the inputs. Training only: local drop-path drops each
    input with probability ``p`` (one draw per batch, at least one input kept); when
    ``cols`` is set the last input is a :class:`DropTrigger` output and a batch it marks
    global keeps only the input of the chosen column (zeros if this join has none)."""

    def __init__(self, p, cols):
        super().__init__()
        self.p, self.cols = p, tuple(cols)

    def forward(self, *xs):
        col = -1
        if self.cols:
            *xs, trigger = xs
            if self.training:
                col = int(trigger.reshape(-1)[0])
        if not self.training:
            return torch.stack(xs).mean(0)
        if col >= 0:
            kept = [x for x, c in zip(xs, self.cols) if c == col]
            return kept[0] if kept else xs[0].mul(0.0)
        if self.p > 0:
            keep = torch.rand(len(xs)) >= self.p
            if not bool(keep.any()):
                keep[int(torch.randint(len(xs), ()))] = True
            xs = [x for x, k in zip(xs, keep.tolist()) if k]
        return xs[0] if len(xs) == 1 else torch.stack(xs).mean(0)


class DropTrigger(nn.Module):
    """Per training batch: with probability ``p`` a column in 1..``columns`` for global
    drop-path, else −1 (local drop-path); −1 in eval mode. One value per sample."""

    def __init__(self, p, columns):
        super().__init__()
        self.p, self.columns = p, columns

    def forward(self, x):
        col = -1
        if self.training and float(torch.rand(())) < self.p:
            col = int(torch.randint(1, self.columns + 1, ()))
        return x.new_full((x.shape[0], 1), float(col))


def flatten(x):
    return x.flatten(1)


def add(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def add_(x, y):
    """``x + y`` into ``x`` (inference graphs, where ``x`` is a fresh value read by nothing
    else: a residual sum without a new tensor, as torchvision's ``out += identity``)."""
    return x.add_(y)


def cat(*xs):
    return xs[0] if len(xs) == 1 else torch.cat(xs, 1)


def mul(x, g):
    return x * g


def channel_slice(x, start, end):
    return x[:, start:end]
