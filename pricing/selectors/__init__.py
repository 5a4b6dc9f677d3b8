"""Reads of the pricing app, one module per concern."""

from .policy import default_policy, offer_policy

__all__ = ["default_policy", "offer_policy"]
