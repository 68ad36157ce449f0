"""Render a :class:`bot.replies.Reply` on a terminal with rich."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable

from bot.replies import Reply

__all__ = ["render_reply"]

_STYLE = {"error": "red", "abstain": "yellow", "no_advice": "cyan"}


def render_reply(reply: Reply, console: Console) -> None:
    console.print(reply.text, style=_STYLE.get(reply.kind), highlight=False, soft_wrap=True)
    for table in reply.tables:
        rich_table = RichTable(title=table.title or None, title_justify="left")
        for header in table.headers:
            rich_table.add_column(header, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*row)
        console.print(rich_table)
    for note in reply.notes:
        console.print(f"• {note}", style="dim", highlight=False, soft_wrap=True)
    for citation in reply.citations:
        console.print(f"[{citation.label()}]", style="dim italic", highlight=False)
    if reply.actions:
        console.print(
            "Try: " + " · ".join(a.label for a in reply.actions), style="dim", highlight=False
        )
