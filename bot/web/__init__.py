"""Web pages other than the chat: /policies (knowledge base)."""
