"""`offerbot hr admin add|list|remove`: the HR web console's accounts (registered by `bot.cli`).

The password is read from standard input (``--password-stdin``: one line, e.g. from a password
manager's pipe) — never from an argument, which other users of the machine could read in the
process list — and stored only as an argon2 hash (:mod:`bot.services.hr.web_accounts`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import UserError, load_settings, operator, run
from bot.cli.terminal import JsonOpt, one_line, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

# The services (argon2, storage) are imported when a command runs, so `offerbot --help` stays
# fast (see bot/cli/__init__.py).

__all__ = ["register"]

admin_app = typer.Typer(help="HR web console accounts.", no_args_is_help=True)

RoleOpt = typer.Option("admin", "--role", help="admin (sees and acts) or viewer (only sees).")
PasswordStdinOpt = typer.Option(
    False, "--password-stdin", help="Read the password from standard input (one line)."
)


def _read_password(from_stdin: bool) -> str:
    if not from_stdin:
        raise UserError("Pass --password-stdin and the password on standard input.")
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@admin_app.command("add")
def add(
    email: str,
    role: str = RoleOpt,
    password_stdin: bool = PasswordStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create an HR console account, or replace its role and password."""

    from bot.services.hr.web_accounts import add_account

    async def go(a: App) -> bool:
        password = _read_password(password_stdin)
        return await add_account(
            uow=a.uow(),
            email=email,
            role=role.strip().lower(),
            password=password,
            actor=operator(),
            now=a.clock.now(),
        )

    created = run(as_json, go, load_settings())
    data = {"email": email.strip().lower(), "role": role.strip().lower(), "created": created}
    if as_json:
        print_json(data)
    else:
        verb = "Added" if created else "Updated"
        out.print(f"{verb} {one_line(data['email'])} ({data['role']}).", markup=False)


@admin_app.command("list")
def list_command(as_json: bool = JsonOpt) -> None:
    """Every HR console account."""
    from bot.services.hr.web_accounts import list_accounts

    async def go(a: App) -> list[dict[str, Any]]:
        return [
            {
                "email": x.email,
                "role": x.role,
                "created_at": x.created_at.isoformat(),
                "created_by": x.created_by,
            }
            for x in await list_accounts(uow=a.uow())
        ]

    rows = run(as_json, go, load_settings())
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No HR console accounts.")
    for row in rows:
        out.print(f"{one_line(row['email'])}  {row['role']}", markup=False)


@admin_app.command("remove")
def remove(email: str, as_json: bool = JsonOpt) -> None:
    """Delete an HR console account and sign it out everywhere."""
    from bot.services.hr.web_accounts import remove_account

    async def go(a: App) -> bool:
        removed = await remove_account(
            uow=a.uow(), email=email, actor=operator(), now=a.clock.now()
        )
        if not removed:
            raise UserError(f"No HR console account {email.strip().lower()!r}.")
        return removed

    run(as_json, go, load_settings())
    if as_json:
        print_json({"email": email.strip().lower(), "removed": True})
    else:
        out.print(f"Removed {one_line(email.strip().lower())}.", markup=False)


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add `hr admin …` to the `hr` group."""
    hr.add_typer(admin_app, name="admin")
