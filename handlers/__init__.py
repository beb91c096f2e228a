"""The conversation: what the bot makes of each inbound message, in its context."""
