"""Command line entry point."""

import typer

app = typer.Typer(no_args_is_help=True, help="ml-connector: ERPs and ServiceNow over Kafka")
