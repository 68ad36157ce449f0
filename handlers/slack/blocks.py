"""Block Kit rendering: pure functions from :class:`~bot.replies.Reply` (and a few plain values)
to Slack payloads. No I/O, no policy wording beyond labels: every sentence comes from services.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.replies import Action, Reply, Table

__all__ = [
    "ELECT_CALLBACK",
    "ELECT_CONFIRM_CALLBACK",
    "GRANTS_BLOCK",
    "GRANTS_INPUT",
    "HOME_ACTIONS",
    "REPLY_ACTION_PREFIX",
    "WITHDRAW_CALLBACK",
    "Choice",
    "HomeContent",
    "closed_modal",
    "election_choices",
    "election_confirm_modal",
    "election_modal",
    "field_errors",
    "home_view",
    "loading_modal",
    "notice_modal",
    "reply_blocks",
    "reply_text",
    "withdraw_modal",
]

Block = dict[str, Any]

REPLY_ACTION_PREFIX = "offer.reply."  # + Action.action_id: a follow-up question button
HOME_ACTIONS = {
    "elect": "offer.home.elect",
    "withdraw": "offer.home.withdraw",
    "form": "offer.home.form",
    "compare": "offer.home.compare",
}
ELECT_CALLBACK = "offer.elect"
ELECT_CONFIRM_CALLBACK = "offer.elect.confirm"
WITHDRAW_CALLBACK = "offer.withdraw"
GRANTS_BLOCK, GRANTS_INPUT = "grants", "chosen"

_SECTION_MAX = 3000  # Slack's limit on a section's text
_HOME_MAX_BLOCKS = 100


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": False}


def _sections(text: str) -> list[Block]:
    text = _escape(text)
    chunks = [text[i : i + _SECTION_MAX] for i in range(0, len(text), _SECTION_MAX)] or [" "]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks]


def _context(lines: Iterable[str]) -> list[Block]:
    elements = [{"type": "mrkdwn", "text": _escape(line)[:_SECTION_MAX]} for line in lines]
    return [
        {"type": "context", "elements": elements[i : i + 10]} for i in range(0, len(elements), 10)
    ]


def _table_blocks(table: Table) -> list[Block]:
    """One line per row, "Header: value" pairs: readable on phones, unlike a wide grid."""
    blocks: list[Block] = []
    if table.title:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(table.title)}*"}}
        )
    lines = []
    for row in table.rows:
        first, *rest = row
        pairs = " · ".join(f"{h}: {v}" for h, v in zip(table.headers[1:], rest, strict=False))
        lines.append(f"*{_escape(first)}* — {_escape(pairs)}")
    for i in range(0, len(lines), 20):
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[i : i + 20])}}
        )
    return blocks


def _buttons(actions: Sequence[Action], prefix: str = REPLY_ACTION_PREFIX) -> list[Block]:
    if not actions:
        return []
    elements = [
        {
            "type": "button",
            "action_id": f"{prefix}{a.action_id}",
            "text": _plain(a.label),
            "value": a.action_id,
        }
        for a in actions[:25]
    ]
    return [{"type": "actions", "elements": elements}]


def reply_text(reply: Reply) -> str:
    """The notification / fallback text: the reply's first paragraph."""
    return reply.text.split("\n", 1)[0][:_SECTION_MAX] or " "


def reply_blocks(reply: Reply) -> list[Block]:
    """An answer: text, tables, notes, a context line with the citations, follow-up buttons."""
    blocks = _sections(reply.text)
    for table in reply.tables:
        blocks += _table_blocks(table)
    if reply.notes:
        blocks += _context(reply.notes)
    if reply.citations:
        blocks += _context(["Source: " + " | ".join(c.label() for c in reply.citations)])
    return blocks + _buttons(reply.actions)


@dataclass(frozen=True, slots=True)
class HomeContent:
    """What the App Home shows: replies built by the services for this person."""

    deadline: Reply
    grants: Reply | None = None  # None: not a verified employee
    status: Reply | None = None
    offer_open: bool = True
    has_intent: bool = False


def home_view(content: HomeContent) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": _plain("Your option exchange", 150)}]
    blocks += _sections(content.deadline.text)
    if content.deadline.notes:  # e.g. "the offer was extended"
        blocks += _context(content.deadline.notes)
    if content.grants is None:
        blocks += _context(
            [
                "I could not match your Slack account to HR's roster, so I show no personal "
                "data here. Ask me any question about the offer in a direct message."
            ]
        )
        return {"type": "home", "blocks": blocks[:_HOME_MAX_BLOCKS]}
    blocks.append({"type": "divider"})
    blocks += _sections(content.grants.text)
    for table in content.grants.tables:
        blocks += _table_blocks(table)
    if content.grants.notes:
        blocks += _context(content.grants.notes)
    if content.status is not None:
        blocks.append({"type": "divider"})
        blocks += _sections(content.status.text)
        if content.status.notes:
            blocks += _context(content.status.notes)
    buttons = []
    if content.offer_open:
        label = "Change my intent" if content.has_intent else "Record intent"
        buttons.append((HOME_ACTIONS["elect"], label))
        if content.has_intent:
            buttons.append((HOME_ACTIONS["withdraw"], "Withdraw"))
    if content.has_intent:
        buttons.append((HOME_ACTIONS["form"], "Download my pre-filled form"))
    buttons.append((HOME_ACTIONS["compare"], "Compare old vs new"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "home_actions",
            "elements": [
                {"type": "button", "action_id": a, "text": _plain(label), "value": a}
                for a, label in buttons
            ],
        }
    )
    return {"type": "home", "blocks": blocks[:_HOME_MAX_BLOCKS]}


@dataclass(frozen=True, slots=True)
class Choice:
    """One checkbox: a grant, or the ISO and NSO halves of one grant together."""

    value: str  # grant numbers joined by "+"
    label: str
    description: str


def election_choices(grants_data: dict[str, Any]) -> list[Choice]:
    """Checkbox options from :func:`bot.services.grants.grants_json` data (eligible only)."""
    eligible = [g for g in grants_data.get("grants", []) if g["eligible"]]
    groups: dict[str, list[dict[str, Any]]] = {}
    for g in eligible:
        groups.setdefault(g["split_group"] or g["grant_number"], []).append(g)
    choices = []
    for members in groups.values():
        numbers = "+".join(m["grant_number"] for m in members)
        label = " + ".join(f"{m['grant_number']} ({m['option_type']})" for m in members)
        shares = sum(m["unexercised_shares"] for m in members)
        new = sum(m["new_option_shares"] or 0 for m in members)
        first = members[0]
        choices.append(
            Choice(
                value=numbers,
                label=label,
                description=(
                    f"granted {first['grant_date']} at ${first['exercise_price']} · "
                    f"{shares:,} unexercised → {new:,} new"
                ),
            )
        )
    return choices


def _modal(
    callback_id: str, title: str, blocks: list[Block], *, submit: str | None, metadata: str = ""
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, 24),
        "close": _plain("Cancel" if submit else "Close", 24),
        "blocks": blocks,
        "private_metadata": metadata,
    }
    if submit:
        view["submit"] = _plain(submit, 24)
    return view


def election_modal(
    choices: Sequence[Choice], *, explanation: str, initial: Sequence[str] = ()
) -> dict[str, Any]:
    """Step 1: pick whole grants (a split ISO/NSO grant is one choice)."""
    options = [
        {"text": _plain(c.label), "description": _plain(c.description), "value": c.value}
        for c in choices[:10]
    ]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": GRANTS_INPUT, "options": options}
    picked = [o for o in options if o["value"] in set(initial)]
    if picked:
        element["initial_options"] = picked
    blocks = [
        *_sections(explanation),
        {
            "type": "input",
            "block_id": GRANTS_BLOCK,
            "label": _plain("Grants to tender (each whole)", 2000),
            "element": element,
        },
    ]
    return _modal(ELECT_CALLBACK, "Record intent", blocks, submit="Review")


def election_confirm_modal(summary: str, grant_numbers: Sequence[str]) -> dict[str, Any]:
    """Step 2: exactly what will be recorded, and what still has to happen."""
    return _modal(
        ELECT_CONFIRM_CALLBACK,
        "Confirm intent",
        _sections(summary),
        submit="Record intent",
        metadata=json.dumps({"grants": list(grant_numbers)}),
    )


def withdraw_modal(explanation: str) -> dict[str, Any]:
    return _modal(WITHDRAW_CALLBACK, "Withdraw", _sections(explanation), submit="Withdraw")


def closed_modal(text: str) -> dict[str, Any]:
    return _modal(ELECT_CALLBACK + ".closed", "Offer closed", _sections(text), submit=None)


def loading_modal(title: str) -> dict[str, Any]:
    """Opened at once (a trigger_id lives 3 s), then replaced by ``views.update``."""
    return _modal("offer.loading", title, _sections("One moment…"), submit=None)


def notice_modal(title: str, reply: Reply) -> dict[str, Any]:
    """A read-only modal showing a reply (the result of a submission, an error)."""
    return _modal("offer.notice", title, reply_blocks(reply)[:_HOME_MAX_BLOCKS], submit=None)


def field_errors(message: str) -> dict[str, Any]:
    """``response_action: errors`` on the grants field."""
    return {"response_action": "errors", "errors": {GRANTS_BLOCK: message}}
