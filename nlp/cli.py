"""`appealbot` subcommands of the nlp package; bot/cli.py registers everything in COMMANDS."""
import click

COMMANDS: list[click.Command] = []
