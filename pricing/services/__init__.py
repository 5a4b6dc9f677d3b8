"""Writes of the pricing app, one module per concern."""

from .policy import copy_offer_policy, set_offer_policy

__all__ = ["copy_offer_policy", "set_offer_policy"]
