"""`offerbot` commands for email (registered by `bot.cli`)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
