"""Deliver stage: subscriptions, webhook signing and the per-centre deliverer."""
