"""Explicit commands, and messages that hold several questions.

Everything said in people's own words goes through the router (``knowledge.router``), trained
on the offer's question bank. Only the commands the bot itself teaches ("help", "grants",
"status", "deadline", "contacts", "withdraw", "tender G00002", "tender all", "tender all
confirm") are recognised here, exactly, so
that they always do the same thing.

:func:`split_questions` cuts a message into at most three questions: sentences that end with a
question mark, lines, and "… and how/when/what …" joins ("two things: when's the cutoff and how
do I submit?"). The answerer uses the parts only when each of them is clearly a different
question.
"""

from __future__ import annotations

import re

__all__ = ["COMMANDS", "MAX_PARTS", "command_of", "split_questions"]

MAX_PARTS = 3

COMMANDS = {
    "help": "help",
    "menu": "help",
    "?": "help",
    "commands": "help",
    "grants": "grants",
    "my grants": "grants",
    "status": "status",
    "my status": "status",
    "deadline": "deadline",
    "deadlines": "deadline",
    "contacts": "contacts",
    "contact": "contacts",
    "withdraw": "withdraw",
    "withdraw confirm": "withdraw",
}
_ELECT_COMMAND = re.compile(
    r"^/?(tender|elect)\s+(all(\s+confirm)?|g?\d[\w-]*)(\s*(,|and)?\s*g?\d[\w-]*)*$"
)


def command_of(text: str) -> str | None:
    """The command a message is, exactly (``help``, ``grants``, ``status``, ``deadline``,
    ``contacts``, ``withdraw``, ``elect``), or None for anything said in one's own words."""
    message = " ".join(text.lower().split()).strip(" .!")
    message = message.lstrip("/")
    if message in COMMANDS:
        return COMMANDS[message]
    if _ELECT_COMMAND.match(message):
        return "elect"
    return None


_JOIN = re.compile(
    r"\s*(?:[;]|\band\s+(?:also\s+)?(?=(?:how|what|whats|when|whens|where|who|which|why|can|"
    r"could|do|does|is|are|will|would)\b))\s*",
    re.I,
)
_LEAD = re.compile(
    r"^\s*(?:(?:hi|hello|hey|dear [\w ]{1,30}|good (?:morning|afternoon))\b[\s,!.:-]*)?"
    r"(?:(?:i have |i've got |got |quick )?(?:two|three|2|3|a few|a couple of|couple of|some) "
    r"(?:quick )?(?:things|questions)\s*[:,.-]\s*|(?:also|and|plus|oh and)\s*[:,]?\s+)?",
    re.I,
)


def split_questions(text: str) -> list[str]:
    """The message's questions, in order (one element when it asks one thing)."""
    pieces: list[str] = []
    for line in text.splitlines():
        for sentence in re.split(r"(?<=\?)\s+", line):
            pieces += [p for p in _JOIN.split(sentence) if p]
    parts = []
    for piece in pieces:
        piece = _LEAD.sub("", piece).strip(" ,.-")
        if len(piece.split()) >= 2:
            parts.append(piece)
    return parts[:MAX_PARTS] if len(parts) > 1 else [text.strip()]
