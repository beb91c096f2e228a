"""`appealbot` subcommands of the tickets package; bot/cli.py registers everything in COMMANDS."""
import click

COMMANDS: list[click.Command] = []
