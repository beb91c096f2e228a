"""`appealbot` subcommands of the knowledge package; bot/cli.py registers everything in COMMANDS."""
import click

COMMANDS: list[click.Command] = []
