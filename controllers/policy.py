"""The REINFORCE controller's policy: an LSTM that emits one token per decision (Zoph & Le 2017).

Step t feeds the embedding of the token chosen at step t-1 (a learned start vector at t=0) to an
``LSTMCell``; a per-decision linear head turns the hidden state into logits over that decision's
choices. Logits are divided by a temperature and optionally squashed ``c·tanh(logits)`` (ENAS,
Pham et al. 2018), which bounds how peaked the policy can get and keeps exploring.

This is the controller's own small policy network — not a searched architecture.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class LSTMPolicy(nn.Module):
    def __init__(self, sizes: list[int], hidden: int = 64, temperature: float = 1.0,
                 tanh_c: float = 0.0, init_range: float = 0.1):
        super().__init__()
        self.sizes = list(sizes)
        self.temperature = temperature
        self.tanh_c = tanh_c
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.Embedding(max(1, sum(self.sizes)), hidden)
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.sizes)
        for p in self.parameters():  # ENAS: uniform(-0.1, 0.1) — a near-uniform first policy
            nn.init.uniform_(p, -init_range, init_range)

    def _logits(self, h: torch.Tensor, i: int) -> torch.Tensor:
        z = self.heads[i](h) / self.temperature
        return self.tanh_c * torch.tanh(z) if self.tanh_c > 0 else z

    @torch.no_grad()
    def sample(self, generator: torch.Generator, n: int = 1,
               blocked: Callable[[list[int]], list[int]] | None = None) -> list[list[int]]:
        """``n`` token sequences (one token per decision), sampled autoregressively in one
        batch; ``blocked(prefix)`` names tokens to mask next (sampling without replacement;
        only with ``n == 1``)."""
        x, state = self.start.expand(n, -1), None
        out = torch.empty(n, len(self.sizes), dtype=torch.long)
        for i in range(len(self.sizes)):
            state = self.lstm(x, state)
            logits = self._logits(state[0], i)
            mask = blocked(out[0, :i].tolist()) if blocked else None
            if mask:
                logits = logits.clone()
                logits[:, mask] = float("-inf")
            probs = torch.softmax(logits, dim=-1)
            out[:, i] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            x = self.embed(out[:, i] + self.offsets[i])
        return out.tolist()

    def evaluate(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum over decisions of log-prob and of entropy for a batch ``tokens`` (B, D)."""
        b = tokens.shape[0]
        x, state = self.start.expand(b, -1), None
        logp = tokens.new_zeros(b, dtype=torch.float32)
        ent = tokens.new_zeros(b, dtype=torch.float32)
        for i in range(len(self.sizes)):
            state = self.lstm(x, state)
            lp = torch.log_softmax(self._logits(state[0], i), dim=-1)
            logp = logp + lp.gather(1, tokens[:, i:i + 1]).squeeze(1)
            ent = ent - (lp.exp() * lp).sum(-1)
            x = self.embed(tokens[:, i] + self.offsets[i])
        return logp, ent
