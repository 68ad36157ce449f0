"""Block Kit rendering: pure functions from :class:`~bot.replies.Reply` (and a few plain values)
to Slack payloads. No I/O, no policy wording beyond labels: every sentence comes from services.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.replies import Action, Reply, Table
from bot.services.elections.employee_overview import EmployeeOverview, GrantRow

__all__ = [
    "ELECT_CALLBACK",
    "ELECT_CONFIRM_CALLBACK",
    "GRANTS_BLOCK",
    "GRANTS_INPUT",
    "HOME_ACTIONS",
    "HOME_GRANT_ROWS",
    "REPLY_ACTION_PREFIX",
    "WITHDRAW_CALLBACK",
    "Choice",
    "chosen_values",
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


_MESSAGE_MAX_BLOCKS = 50  # Slack's limit on a message's blocks


def reply_blocks(reply: Reply) -> list[Block]:
    """An answer: text, tables, notes, a context line with the citations, follow-up buttons —
    cut to Slack's 50 blocks per message (saying so) when a table is very long."""
    blocks = _sections(reply.text)
    for table in reply.tables:
        blocks += _table_blocks(table)
    if reply.notes:
        blocks += _context(reply.notes)
    if reply.citations:
        blocks += _context(["Source: " + " | ".join(c.label() for c in reply.citations)])
    buttons = _buttons(reply.actions)
    room = _MESSAGE_MAX_BLOCKS - len(buttons)
    if len(blocks) > room:
        blocks = blocks[: room - 1] + _context(
            ["This answer is longer than one Slack message holds; the rest is not shown."]
        )
    return blocks + buttons


# The App Home shows at most this many grants (eligible ones first when some are left out):
# five grants per section keeps them within four blocks; a longer list is a wall to scroll.
HOME_GRANT_ROWS = 20
_FIELDS_PER_SECTION = 10  # Slack's limit on a section's fields: five grants of two columns


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:_SECTION_MAX]}


def _grant_fields(row: GrantRow) -> list[dict[str, Any]]:
    """One grant as a two-column row: what it is | what it would become, or why it cannot."""
    left = (
        f"*{_escape(row.grant_number)}* · {_escape(row.option_type)}\n{row.granted} · {row.price}"
    )
    if row.eligible:
        right = f"{row.unexercised} unexercised → *{row.new_option_shares} new*\n✓ Eligible"
    else:
        right = f"{row.unexercised} unexercised\n✗ Not eligible: {_escape(row.reason)}"
    return [_mrkdwn(left), _mrkdwn(right)]


def _grant_rows(overview: EmployeeOverview) -> tuple[list[Block], str]:
    """The grants as sections of two-column fields, and a line on those left out (if any)."""
    rows = list(overview.grants)
    left_out = ""
    if len(rows) > HOME_GRANT_ROWS:
        rows = sorted(rows, key=lambda r: not r.eligible)[:HOME_GRANT_ROWS]
        more = len(overview.grants) - HOME_GRANT_ROWS
        left_out = (
            f"Showing {HOME_GRANT_ROWS} of your {len(overview.grants)} grants (eligible ones "
            f"first); {more} more are not shown here. Send me “grants” in a direct message to "
            "see all of them."
        )
    fields = [field for row in rows for field in _grant_fields(row)]
    header = [_mrkdwn("*Grant* · type\ngranted · exercise price"), _mrkdwn("*Shares*\neligibility")]
    sections = [
        {"type": "section", "fields": fields[i : i + _FIELDS_PER_SECTION]}
        for i in range(0, len(fields), _FIELDS_PER_SECTION)
    ]
    return [{"type": "section", "fields": header}, *sections], left_out


def _home_buttons(overview: EmployeeOverview) -> Block:
    buttons = []
    if overview.can_elect:
        label = "Change my intent" if overview.has_tender else "Record intent"
        buttons.append((HOME_ACTIONS["elect"], label, True))
        if overview.has_tender:
            buttons.append((HOME_ACTIONS["withdraw"], "Withdraw", False))
    if overview.has_tender:
        buttons.append((HOME_ACTIONS["form"], "Download my pre-filled form", False))
    buttons.append((HOME_ACTIONS["compare"], "Compare old vs new", False))
    elements = []
    for action_id, label, primary in buttons:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": _plain(label),
            "value": action_id,
        }
        if primary:
            button["style"] = "primary"
        elements.append(button)
    return {"type": "actions", "block_id": "home_actions", "elements": elements}


def home_view(overview: EmployeeOverview) -> dict[str, Any]:
    """Time left and the next step first, then the grants as rows, then the buttons."""
    blocks: list[Block] = [
        {"type": "header", "text": _plain("Your option exchange", 150)},
        {
            "type": "section",
            "text": _mrkdwn(f"*{overview.time_left}* · {_escape(overview.deadline)}"),
        },
    ]
    if overview.deadline_notes:  # e.g. "the offer was extended"
        blocks += _context(overview.deadline_notes)
    if not overview.verified:
        blocks += _context(
            [
                "I could not match your Slack account to HR's roster, so I show no personal "
                "data here. Ask me any question about the offer in a direct message.",
                overview.dates,
            ]
        )
        return {"type": "home", "blocks": blocks}
    blocks.append(
        {"type": "section", "text": _mrkdwn(f"*Next step:* {_escape(overview.next_step)}")}
    )
    if overview.intent:
        blocks += _context([overview.intent])
    blocks.append({"type": "divider"})
    blocks.append(
        {"type": "section", "text": _mrkdwn(f"*Your grants* · {_escape(overview.grants_summary)}")}
    )
    if overview.grants:
        rows, left_out = _grant_rows(overview)
        blocks += rows
        if left_out:
            blocks += _context([f"*{left_out}*"])
    blocks += _context(["\n".join([*overview.notes, overview.dates])])
    blocks.append({"type": "divider"})
    blocks.append(_home_buttons(overview))
    return {"type": "home", "blocks": blocks[:_HOME_MAX_BLOCKS]}


@dataclass(frozen=True, slots=True)
class Choice:
    """One checkbox: a grant, or the ISO and NSO halves of one grant together."""

    value: str  # grant numbers joined by "+"
    label: str
    description: str


def election_choices(grants_data: dict[str, Any]) -> list[Choice]:
    """Checkbox options from :func:`bot.services.roster.grants.grants_json` data (eligible only)."""
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
        granted = date.fromisoformat(first["grant_date"])
        choices.append(
            Choice(
                value=numbers,
                label=label,
                description=(
                    f"{granted:%b} {granted.day}, {granted.year} · ${first['exercise_price']} · "
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


_CHECKBOX_OPTIONS = 10  # Slack: options in one checkboxes element
_SELECT_OPTIONS = 100  # Slack: options in one static select
_VIEW_BLOCKS = 100  # Slack: blocks in one modal or Home view
_OPTION_TEXT = 75  # Slack: an option's text and description (plain_text)


def _groups(choices: Sequence[Choice], room: int) -> tuple[int, list[Sequence[Choice]]]:
    """Checkbox groups of ten while they fit in ``room`` blocks, else multi-selects of 100."""
    size = _CHECKBOX_OPTIONS if len(choices) <= _CHECKBOX_OPTIONS * room else _SELECT_OPTIONS
    return size, [choices[i : i + size] for i in range(0, len(choices), size)] or [[]]


def _grants_element(group: Sequence[Choice], size: int, initial: set[str]) -> dict[str, Any]:
    element: dict[str, Any]
    if size == _CHECKBOX_OPTIONS:
        options = [
            {
                "text": _plain(c.label, _OPTION_TEXT),
                "description": _plain(c.description, _OPTION_TEXT),
                "value": c.value,
            }
            for c in group
        ]
        element = {"type": "checkboxes", "options": options}
    else:  # select options have no description: the figures go into the text
        options = [
            {"text": _plain(f"{c.label} · {c.description}", _OPTION_TEXT), "value": c.value}
            for c in group
        ]
        element = {
            "type": "multi_static_select",
            "placeholder": _plain("Choose grants"),
            "options": options,
        }
    element["action_id"] = GRANTS_INPUT
    picked = [o for o, c in zip(options, group, strict=True) if set(c.value.split("+")) <= initial]
    if picked:
        element["initial_options"] = picked
    return element


_GROUPS_HINT = "Tick grants in any of the {} groups below; each grant is tendered whole."
_PAIRS_HINT = " The ISO and NSO parts of one grant are a single choice."


def election_modal(
    choices: Sequence[Choice],
    *,
    explanation: str,
    initial: Sequence[str] = (),
    title: str = "Record intent",
) -> dict[str, Any]:
    """Step 1: pick whole grants (a split ISO/NSO grant is one choice). Every choice is offered:
    checkbox groups of ten (Slack's limit per group), each its own optional input block —
    ``grants``, ``grants.2``, … — read back by :func:`chosen_values`; past what fits in a view's
    100 blocks, multi-selects of 100. ``initial``: grant numbers to tick (the current intent)."""
    intro = _sections(explanation)[:3]
    size, groups = _groups(choices, _VIEW_BLOCKS - len(intro) - 1)  # 1: the line on groups
    several = len(groups) > 1
    inputs: list[Block] = []
    for i, group in enumerate(groups):
        first = i * size + 1
        label = (
            f"Grants to tender: {first}–{first + len(group) - 1} of {len(choices)}"
            if several
            else "Grants to tender (each whole)"
        )
        block: Block = {
            "type": "input",
            "block_id": GRANTS_BLOCK if i == 0 else f"{GRANTS_BLOCK}.{i + 1}",
            "label": _plain(label, 2000),
            "element": _grants_element(group, size, set(initial)),
        }
        if several:  # each group may stay empty; the service asks for at least one grant
            block["optional"] = True
        inputs.append(block)
    if several:
        pairs = any("+" in c.value for c in choices)
        intro.append(
            {
                "type": "context",
                "elements": [_mrkdwn(_GROUPS_HINT.format(len(groups)) + _PAIRS_HINT * pairs)],
            }
        )
    return _modal(ELECT_CALLBACK, title, [*intro, *inputs], submit="Review")


def chosen_values(state: dict[str, Any]) -> list[str]:
    """The values ticked in every grants group of a submitted election modal, in group order."""
    values: list[str] = []
    groups = state.get("values", {})

    def order(block_id: str) -> int:
        suffix = block_id.partition(".")[2]
        return int(suffix) if suffix.isdigit() else 1

    own = [b for b in groups if b == GRANTS_BLOCK or b.startswith(GRANTS_BLOCK + ".")]
    for block_id in sorted(own, key=order):
        field = groups[block_id].get(GRANTS_INPUT) or {}
        values += [o["value"] for o in field.get("selected_options") or []]
    return values


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


def late_view(response: dict[str, Any]) -> dict[str, Any]:
    """The modal for a submission's response that came after its acknowledgement: its view,
    or its field errors as a notice (``response_action: errors`` only works in the ack)."""
    if "view" in response:
        return dict(response["view"])
    errors = "\n".join(str(e) for e in (response.get("errors") or {}).values())
    text = f"{errors}\nNothing was recorded. Close this window and choose again."
    return notice_modal("Not recorded", Reply(text=text.strip(), kind="error"))
