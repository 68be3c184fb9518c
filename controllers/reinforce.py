"""REINFORCE with an LSTM controller — Zoph & Le 2017, with the ENAS refinements.

Each ask samples one token per decision from :class:`controllers.policy.LSTMPolicy`, whose
logits are ``tanh_c·tanh(z / temperature)`` (ENAS). With ``dedup`` it samples without
replacement: a batch of candidates is drawn and the first whose network (genome hash) was never
asked wins; if all were seen, prefixes whose every completion was seen are masked
(:class:`controllers.trie.SeenTrie`) so the ask is new by construction. Told rewards are
buffered; every ``batch`` results the policy takes one Adam step on

    loss = -mean((R - b) / s · log π(a)) - entropy · mean(H(π))

where ``b`` is an exponential moving average of past rewards (the baseline, decay
``baseline_decay``) and ``s`` an EMA of the rewards' standard deviation when ``normalize`` is on
(the step does not depend on the reward's scale). Failed results are learned from like any
other, with the reward the reward function gives them (0 for accuracy).

The defaults were tuned on benchmarks/controllers.py (30 landscapes): what mattered most was
the ENAS logit shaping (temperature 5 with tanh 2.5 — without it the policy collapses onto a
local optimum within ~100 samples), then sampling without replacement, lr 0.05 with batches of
2–4; the entropy bonus, the baseline decay, advantage normalisation and the hidden size made no
difference or made it worse.

The whole state — weights, Adam moments, baseline, buffer, the seen set and the sampling
generator — is JSON data, so a resumed search draws exactly the asks an uninterrupted one would.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

from controllers.base import CONTROLLERS, Controller
from controllers.options import option
from controllers.trie import SeenTrie
from nas.errors import NasError
from nas.space import Assignment


@dataclasses.dataclass(frozen=True)
class ReinforceOptions:
    hidden: int = option(64, "LSTM hidden size")
    lr: float = option(0.05, "Adam learning rate")
    batch: int = option(4, "results per policy update (m)")
    baseline_decay: float = option(0.8, "EMA decay of the reward baseline")
    normalize: bool = option(True, "divide the advantage by an EMA of the reward's std")
    entropy: float = option(0.0, "entropy bonus weight")
    temperature: float = option(5.0, "logits are divided by this before sampling")
    tanh_c: float = option(2.5, "if > 0, logits = tanh_c·tanh(logits) (ENAS logit clipping)")
    grad_clip: float = option(5.0, "clip the gradient norm (0 = off)")
    dedup: bool = option(True, "sample without replacement: never re-ask a network (hash)")
    max_retries: int = option(16, "dedup: candidates drawn per ask before masking seen prefixes")


@CONTROLLERS.register("reinforce")
class Reinforce(Controller):
    name = "reinforce"
    description = "LSTM policy trained with REINFORCE (Zoph & Le 2017; ENAS temperature/tanh)"
    Options = ReinforceOptions

    def __init__(self, space, **kw):
        import torch  # (imported here: listing the controllers needs no torch)
        from controllers.policy import LSTMPolicy
        super().__init__(space, **kw)
        o = self.options
        for bad, what in ((o.hidden < 1, "hidden ≥ 1"), (o.batch < 1, "batch ≥ 1"),
                          (not o.lr > 0, "lr > 0"), (not o.temperature > 0, "temperature > 0"),
                          (not 0 <= o.baseline_decay < 1, "0 ≤ baseline_decay < 1"),
                          (o.tanh_c < 0 or o.entropy < 0 or o.max_retries < 0,
                           "tanh_c, entropy and max_retries ≥ 0")):
            if bad:
                raise NasError(f"controller 'reinforce': need {what}")
        self.sizes = [len(d.choices) for d in space.decisions]
        self.generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.policy = LSTMPolicy(self.sizes, o.hidden, o.temperature, o.tanh_c)
        self.optim = torch.optim.Adam(self.policy.parameters(), lr=o.lr)
        self.baseline: float | None = None
        self.var: float | None = None
        self.buffer: list[tuple[list[int], float]] = []
        self.tried = SeenTrie(self.sizes)  # assignments asked or told, and isomorphic twins
        self.n_updates = 0

    # ------------------------------------------------------------------ ask / tell
    def propose(self) -> Assignment:
        with _one_thread():
            return self._propose()

    def _propose(self) -> Assignment:
        if not self.options.dedup:
            return self.space.from_indices(self.policy.sample(self.generator)[0])
        # exact conditional sampling by rejection (one batch of candidates, the first new one
        # wins); when all are seen, sample with exhausted prefixes masked until one is new
        candidates = self.policy.sample(self.generator, max(1, self.options.max_retries))
        for attempt in range(len(candidates) + self.options.max_retries):
            if attempt < len(candidates):
                idx = candidates[attempt]
            elif self.tried.exhausted():
                break
            else:
                idx = self.policy.sample(self.generator, 1, self.tried.blocked)[0]
            a = self.space.from_indices(idx)
            if idx not in self.tried and self.is_new(a):
                break
            self.tried.add(idx)  # (a new assignment of a seen network: never again)
        self._mark_seen(a)
        return a

    def _mark_seen(self, a: Assignment) -> None:
        self.tried.add(self.space.to_indices(a))
        self.mark_seen(a)

    def sample(self, rng) -> Assignment:
        """A draw from the current policy (with replacement; the generator seeded from
        ``rng``): the paths ENAS trains the shared weights on."""
        import torch
        g = torch.Generator().manual_seed(rng.getrandbits(63))
        with _one_thread():
            return self.space.from_indices(self.policy.sample(g)[0])

    def entropy(self) -> float:
        """The policy's entropy (nats, summed over decisions; Monte-Carlo over 64 draws)."""
        import torch
        memo = getattr(self, "_entropy", None)
        if memo is not None and memo[0] == self.n_updates:    # the policy changes per update
            return memo[1]
        g = torch.Generator().manual_seed(0)
        with _one_thread(), torch.no_grad():
            tokens = torch.tensor(self.policy.sample(g, 64), dtype=torch.long)
            h = float(self.policy.evaluate(tokens)[1].mean())
        self._entropy = (self.n_updates, h)
        return h

    def warm_start_size(self) -> int:
        return self.options.batch                # the first policy update's batch

    def observe(self, assignment, result, reward) -> None:
        if self.options.dedup:
            self._mark_seen(assignment)
        self.buffer.append((self.space.to_indices(assignment), reward))
        if len(self.buffer) >= self.options.batch:
            self.update()

    def update(self) -> float:
        """One policy-gradient step on the buffered results; returns the loss."""
        with _one_thread():
            return self._update()

    def _update(self) -> float:
        import torch
        o = self.options
        tokens = torch.tensor([t for t, _ in self.buffer], dtype=torch.long)
        rewards = torch.tensor([r for _, r in self.buffer], dtype=torch.float32)
        self.buffer = []
        if self.baseline is None:
            self.baseline = float(rewards.mean())
            self.var = float(rewards.var(unbiased=False)) if len(rewards) > 1 else 0.0
        adv = rewards - self.baseline
        if o.normalize:
            adv = adv / math.sqrt(self.var + 1e-8) if self.var > 0 else adv * 0
        d = o.baseline_decay
        for r in rewards.tolist():  # EMAs after computing the advantage: b is a past average
            self.var = d * self.var + (1 - d) * (r - self.baseline) ** 2
            self.baseline = d * self.baseline + (1 - d) * r
        logp, ent = self.policy.evaluate(tokens)
        loss = -(adv * logp).mean() - o.entropy * ent.mean()
        self.optim.zero_grad()
        loss.backward()
        if o.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), o.grad_clip)
        self.optim.step()
        self.n_updates += 1
        return float(loss.detach())

    # ------------------------------------------------------------------ inspection
    def log_prob(self, assignment: Assignment) -> float:
        """log π(assignment) under the current policy."""
        import torch
        tokens = torch.tensor([self.space.to_indices(assignment)], dtype=torch.long)
        with _one_thread(), torch.no_grad():
            return float(self.policy.evaluate(tokens)[0][0])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        opt = self.optim.state_dict()
        return {
            **super().state_dict(),
            "policy": {k: _t2j(v) for k, v in self.policy.state_dict().items()},
            "optim": {"state": [[k, {n: _t2j(v) for n, v in s.items()}]
                                for k, s in opt["state"].items()],
                      "param_groups": opt["param_groups"]},
            "generator": self.generator.get_state().tolist(),
            "baseline": self.baseline, "var": self.var, "n_updates": self.n_updates,
            "buffer": [[t, r] for t, r in self.buffer],
            "tried": list(self.tried.items()),
        }

    def load_state_dict(self, state) -> None:
        import torch
        super().load_state_dict(state)
        self.policy.load_state_dict({k: _j2t(v) for k, v in state["policy"].items()})
        self.optim.load_state_dict({
            "state": {int(k): {n: _j2t(v) for n, v in s.items()}
                      for k, s in state["optim"]["state"]},
            "param_groups": state["optim"]["param_groups"]})
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.baseline, self.var = state["baseline"], state["var"]
        self.n_updates = state["n_updates"]
        self.buffer = [(list(t), float(r)) for t, r in state["buffer"]]
        self.tried = SeenTrie(self.sizes)
        for idx in state["tried"]:
            self.tried.add(idx)


@contextlib.contextmanager
def _one_thread():
    """The policy's ops are tiny: intra-op threads only add overhead (×30 on a busy 2-core
    machine), so run them on one thread and give the caller back its setting."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _t2j(t) -> dict:
    """A tensor as exact JSON data: its raw bytes in base64 (a 64-unit LSTM with its Adam
    moments is ~100k floats: as a JSON list of floats it cost ~2 MB and tens of ms per saved
    state, as bytes ~0.5 MB and a memcpy)."""
    import base64
    a = t.detach().cpu().contiguous().numpy()
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
            "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def _j2t(d: dict):
    import base64
    import numpy as np
    import torch
    dtype = getattr(torch, d["dtype"])
    if "b64" in d:               # raw little-endian bytes (states saved since the restructure)
        np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        a = np.frombuffer(base64.b64decode(d["b64"]), dtype=np_dtype).copy()
        return torch.from_numpy(a).reshape(d["shape"])
    return torch.tensor(d["data"], dtype=dtype).reshape(d["shape"])   # older states
