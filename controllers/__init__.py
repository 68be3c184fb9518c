"""Controllers behind one ask/tell interface (registry ``CONTROLLERS``).

``random`` (uniform, dedup by hash), ``evolution`` (regularized evolution), ``reinforce``
(LSTM + REINFORCE) and ``optuna`` (TPE, random, NSGA-II, GP, CMA-ES samplers on a Study).
Rewards and hard constraints: :mod:`controllers.rewards`.
"""
from controllers.base import CONTROLLERS, Controller, accuracy_reward
from controllers import evolution, optuna_ctl, random, reinforce  # noqa: F401  (register)
from controllers.rewards import Constraints, make_reward, violates

__all__ = ["CONTROLLERS", "Controller", "accuracy_reward", "make_reward", "violates",
           "Constraints"]
