"""What every ``offerbot`` command module shares: consoles, JSON output, the error edge.

Errors a person can fix (bad CSV, unknown employee, closed offer, late receipt) are printed as
one sentence — or as ``{"error": ..., "details": [...]}`` with ``--json`` — and exit with
status 1; invalid configuration exits with 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from bot.bootstrap import App, build
from bot.config import Settings
from bot.domain.errors import DomainError
from bot.services.errors import ServiceError
from bot.services.identity import Identity
from knowledge.offer_terms import OfferTermsError

__all__ = [
    "JsonOpt",
    "UserError",
    "err",
    "load_settings",
    "operator",
    "out",
    "print_json",
    "run",
]

T = TypeVar("T")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


class UserError(Exception):
    """An error already worded for the person at the terminal."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def run(as_json: bool, work: Callable[[App], Awaitable[T]], settings: Settings | None = None) -> T:
    """Build the app, await ``work(app)``, dispose of it; turn user errors into exit status 1."""

    async def main() -> T:
        application = build(settings)
        try:
            return await work(application)
        finally:
            await application.aclose()

    try:
        return asyncio.run(main())
    except (UserError, DomainError, ServiceError, OfferTermsError) as exc:
        details = getattr(exc, "details", None) or [str(e) for e in getattr(exc, "errors", [])]
        if as_json:
            print_json({"error": str(exc), "details": details})
        else:
            err.print(f"error: {exc}", style="red")
            for line in details[:50]:
                err.print(f"  {line}")
            if len(details) > 50:
                err.print(f"  … and {len(details) - 50} more")
        raise typer.Exit(1) from None


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        err.print(f"error: invalid configuration:\n{exc}", style="red")
        raise typer.Exit(2) from None


def operator() -> Identity:
    """HR (or an operator) at the terminal."""
    return Identity(channel="cli", actor=f"cli:{getpass.getuser()}")
