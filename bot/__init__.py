"""The edges of appealbot: the Flask app factory, the channels, the CLI and the configuration.

Importing `bot` stays cheap and framework-free; `bot.app.create_app` builds the web app.
"""
