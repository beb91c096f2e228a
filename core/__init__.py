"""The kernel every layer may import: database plumbing, errors, time formatting, settings.

It imports nothing of the project's own; see the import contracts in pyproject.toml.
"""
