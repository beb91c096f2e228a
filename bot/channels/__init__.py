"""Channel adapters: a platform request becomes an IncomingMessage, a Reply becomes the platform's answer."""
