"""`python -m bot.cli …`: the `appealbot` command, for processes started without the entry point."""

import sys

from bot.cli import main

sys.exit(main(prog_name="appealbot"))
