"""The console channel: a chat on the terminal that goes through the same conversation
service as Slack and e-mail, as one verified demo employee."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.console import Console

from bot.services.identity import Identity
from bot.services.questions.conversation import ConversationDeps, respond
from handlers.console.render import render_reply

__all__ = ["chat"]

_QUIT = {"quit", "exit", "bye", ":q"}
_ACTION_TEXT = {"talk_to_hr": "contacts", "grants": "grants", "deadline": "deadline"}


async def chat(
    *,
    deps: ConversationDeps,
    employee_id: str,
    name: str,
    console: Console,
    read_line: Callable[[str], str] = input,
) -> int:
    """Read lines until EOF or ``quit``; returns the number of messages answered."""
    identity = Identity(channel="console", actor=employee_id, employee_id=employee_id)
    console.print(
        f"offerbot — chatting as {name} ({employee_id}). Type 'help', 'grants', 'deadline', "
        "'status', 'tender GRANT', 'withdraw', a question, or 'quit'.",
        style="bold",
    )
    answered = 0
    while True:
        try:
            line = await asyncio.to_thread(read_line, "you> ")
        except EOFError:
            break
        text = line.strip()
        if text.lower() in _QUIT:
            break
        if not text:
            continue
        reply = await respond(text=_ACTION_TEXT.get(text, text), identity=identity, deps=deps)
        render_reply(reply, console)
        answered += 1
    console.print("Goodbye.", style="dim")
    return answered
