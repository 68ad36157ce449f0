"""An employee with many grants, added to a copy of the demo roster, and a checker of Slack's
documented Block Kit limits — shared by the election modal and App Home tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bot.domain.roster import OptionType
from bot.ports import UnitOfWork

TEMPLATE_EMPLOYEE, TEMPLATE_GRANT = "E1001", "G00002"  # an eligible demo grant


async def add_employee_with_grants(
    uow: UnitOfWork, *, number: int, eligible: int, ineligible: int = 1
) -> list[str]:
    """``E{number}`` (Slack ``U{number}``, e-mail ``e{number}@example.com``) with ``eligible``
    eligible grants — the last two an ISO/NSO split grant when there are at least two — and
    ``ineligible`` grants priced below the offer's minimum. Returns the election modal's
    expected choice values (split halves joined by "+")."""
    employee_id, prefix = f"E{number}", f"M{number}-"
    async with uow:
        person = await uow.employees.get(TEMPLATE_EMPLOYEE)
        template = await uow.grants.get(TEMPLATE_GRANT)
        assert person is not None and template is not None
        grants = []
        for i in range(eligible + ineligible):
            grants.append(
                replace(
                    template,
                    grant_number=f"{prefix}{i + 1:03d}",
                    employee_id=employee_id,
                    grant_date=template.grant_date - timedelta(days=i),
                    shares_granted=1000 + 10 * i,
                    shares_exercised=0,
                    exercise_price=Decimal("1.50") if i >= eligible else Decimal("30.25"),
                    split_group=None,
                )
            )
        if eligible >= 2:  # the last two eligible ones: the two halves of one grant
            day = grants[eligible - 2].grant_date
            grants[eligible - 2] = replace(grants[eligible - 2], split_group=f"{prefix}S")
            grants[eligible - 1] = replace(
                grants[eligible - 1],
                grant_date=day,
                option_type=OptionType.NSO,
                split_group=f"{prefix}S",
            )
        await uow.employees.upsert_many(
            [
                replace(
                    person,
                    employee_id=employee_id,
                    name=f"Many Grants {number}",
                    email=f"e{number}@example.com",
                    slack_user_id=f"U{number}",
                )
            ]
        )
        await uow.grants.upsert_many(grants)
        await uow.commit()
    values = [g.grant_number for g in grants[: eligible - 2 if eligible >= 2 else eligible]]
    if eligible >= 2:
        values.append(f"{grants[eligible - 2].grant_number}+{grants[eligible - 1].grant_number}")
    return values


# --- Slack's documented limits (api.slack.com/reference/block-kit) -----------------------------

LIMITS = {
    "view_blocks": 100,  # modals and Home tabs
    "message_blocks": 50,
    "title": 24,  # a modal's title, submit and close
    "private_metadata": 3000,
    "block_id": 255,
    "action_id": 255,
    "section_text": 3000,
    "section_fields": 10,
    "field_text": 2000,
    "header": 150,
    "context_elements": 10,
    "actions_elements": 25,
    "button_text": 75,
    "checkbox_options": 10,
    "select_options": 100,
    "option_text": 75,
    "option_value": 150,
    "input_label": 2000,
}


def _text(obj: dict[str, Any] | None) -> str:
    return str((obj or {}).get("text", ""))


def _check_element(element: dict[str, Any], where: str) -> list[str]:
    problems = []
    if len(element.get("action_id", "")) > LIMITS["action_id"]:
        problems.append(f"{where}: action_id too long")
    kind = element.get("type")
    options = element.get("options", [])
    if kind == "checkboxes" and len(options) > LIMITS["checkbox_options"]:
        problems.append(f"{where}: {len(options)} checkbox options")
    if kind in ("static_select", "multi_static_select") and len(options) > LIMITS["select_options"]:
        problems.append(f"{where}: {len(options)} select options")
    for option in options:
        if len(_text(option.get("text"))) > LIMITS["option_text"]:
            problems.append(f"{where}: option text over 75: {_text(option.get('text'))!r}")
        if len(_text(option.get("description"))) > LIMITS["option_text"]:
            problems.append(f"{where}: option description over 75")
        if len(option.get("value", "")) > LIMITS["option_value"]:
            problems.append(f"{where}: option value over 150")
        if option.get("description") and kind not in ("checkboxes", "radio_buttons"):
            problems.append(f"{where}: descriptions are only for checkboxes and radio buttons")
    for picked in element.get("initial_options", []):
        if picked not in options:
            problems.append(f"{where}: an initial option is not one of the options")
    if kind == "button" and len(_text(element.get("text"))) > LIMITS["button_text"]:
        problems.append(f"{where}: button text over 75")
    return problems


def slack_limit_problems(payload: dict[str, Any], *, message: bool = False) -> list[str]:
    """Every documented limit a view (or, with ``message``, a message's blocks) breaks."""
    blocks = payload.get("blocks", [])
    problems = []
    most = LIMITS["message_blocks"] if message else LIMITS["view_blocks"]
    if len(blocks) > most:
        problems.append(f"{len(blocks)} blocks (at most {most})")
    for key in ("title", "submit", "close"):
        if key in payload and len(_text(payload[key])) > LIMITS["title"]:
            problems.append(f"{key} over 24 characters")
    if len(payload.get("private_metadata", "")) > LIMITS["private_metadata"]:
        problems.append("private_metadata over 3,000 characters")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("repeated block_id")
    for n, block in enumerate(blocks):
        where = f"block {n} ({block.get('type')})"
        if len(block.get("block_id", "")) > LIMITS["block_id"]:
            problems.append(f"{where}: block_id too long")
        kind = block.get("type")
        if kind == "header" and len(_text(block.get("text"))) > LIMITS["header"]:
            problems.append(f"{where}: header over 150")
        if kind == "section":
            if len(_text(block.get("text"))) > LIMITS["section_text"]:
                problems.append(f"{where}: text over 3,000")
            fields = block.get("fields", [])
            if len(fields) > LIMITS["section_fields"]:
                problems.append(f"{where}: {len(fields)} fields")
            if any(len(_text(f)) > LIMITS["field_text"] for f in fields):
                problems.append(f"{where}: a field over 2,000")
            if not block.get("text") and not fields:
                problems.append(f"{where}: neither text nor fields")
            if "accessory" in block:
                problems += _check_element(block["accessory"], where)
        if kind == "context" and len(block.get("elements", [])) > LIMITS["context_elements"]:
            problems.append(f"{where}: over 10 elements")
        if kind == "actions":
            elements = block.get("elements", [])
            if len(elements) > LIMITS["actions_elements"]:
                problems.append(f"{where}: over 25 elements")
            for element in elements:
                problems += _check_element(element, where)
        if kind == "input":
            if len(_text(block.get("label"))) > LIMITS["input_label"]:
                problems.append(f"{where}: label over 2,000")
            problems += _check_element(block["element"], where)
    return problems


def options_by_block(view: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The grants inputs of an election modal: block_id → its options."""
    return {
        b["block_id"]: b["element"]["options"]
        for b in view["blocks"]
        if b.get("type") == "input" and b["block_id"].startswith("grants")
    }
