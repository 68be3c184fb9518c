"""Controllers behind one ask/tell interface (registry ``CONTROLLERS``)."""
from controllers.base import CONTROLLERS, Controller, accuracy_reward

__all__ = ["CONTROLLERS", "Controller", "accuracy_reward"]
