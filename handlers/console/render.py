"""Render a :class:`bot.replies.Reply` on a terminal with rich.

A reply carries text from outside (names, questions, HR's messages): it is printed as plain
text, never parsed as rich markup (a ``[/x]`` in a name would otherwise stop the command).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from bot.replies import Reply

__all__ = ["render_reply"]

_STYLE = {"error": "red", "abstain": "yellow", "no_advice": "cyan"}


def render_reply(reply: Reply, console: Console) -> None:
    console.print(
        reply.text, style=_STYLE.get(reply.kind), highlight=False, soft_wrap=True, markup=False
    )
    for table in reply.tables:
        title = Text(table.title) if table.title else None
        rich_table = RichTable(title=title, title_justify="left")
        for header in table.headers:
            rich_table.add_column(Text(header), overflow="fold")
        for row in table.rows:
            rich_table.add_row(*(Text(str(cell)) for cell in row))
        console.print(rich_table)
    for note in reply.notes:
        console.print(f"• {note}", style="dim", highlight=False, soft_wrap=True, markup=False)
    for citation in reply.citations:
        console.print(f"[{citation.label()}]", style="dim italic", highlight=False, markup=False)
    if reply.actions:
        console.print(
            "Try: " + " · ".join(a.label for a in reply.actions),
            style="dim",
            highlight=False,
            markup=False,
        )
