"""Imports every handler module so that each registers its intents and flows."""

from handlers import appeal, chitchat, clarify, contact, inspection, official, policy, status  # noqa: F401
