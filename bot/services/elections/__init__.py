"""Election use cases, in one import for channels and the CLI.

Split by idea (each module of this package stays small):

- ``intents``   record_intent / record_withdrawal (tender, change, withdraw, re-tender)
- ``receipts``  record_receipt (HR logs a signed form; late ones refused)
- ``status``    employee_status, audit_trail
- ``reports``   hr_report, export_csv
- ``close``     close_offer (accept, Promise to Grant), record_split
- ``model``     model_options (neutral illustration)
- ``wording``   every sentence the above say (no offer facts in code)

Beside them: ``person`` (one person's roster data, loaded in an open unit of work),
``preview`` and ``attempts`` (checking a tender; one tried by e-mail), ``screens`` and
``employee_overview`` (the personal election screen), ``tender_books`` (where each tender
stands), ``offer_closing``, ``close_signer``, ``capital_splits`` and ``printed_forms``.

Reply builders (``intent_reply``, ``status_reply``, ``receipt_reply``, ``model_reply``) give the
channel-neutral :class:`~bot.replies.Reply` that Slack, e-mail and the console render.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.services.elections.close import (
        CloseResult,
        SplitResult,
        close_json,
        close_offer,
        record_split,
        split_json,
    )
    from bot.services.elections.intents import (
        IntentResult,
        intent_json,
        intent_reply,
        latest_form,
        record_intent,
        record_withdrawal,
    )
    from bot.services.elections.model import ModelResult, model_json, model_options, model_reply
    from bot.services.elections.receipts import (
        ReceiptResult,
        receipt_json,
        receipt_reply,
        record_receipt,
    )
    from bot.services.elections.reports import export_csv, hr_report
    from bot.services.elections.status import (
        ElectionStatus,
        audit_json,
        audit_trail,
        employee_status,
        status_json,
        status_reply,
    )

# Where each name lives. The modules are imported on first use of a name (PEP 562), not with
# the package: a question (``offerbot ask``) needs ``intents`` and ``status`` at most, and
# ``close`` (the Promise to Grant's PDF) and ``receipts`` (the HR console's scans, through
# SQLAlchemy) cost a third of a second of a fresh process's start.
_HOMES = {
    "CloseResult": "close",
    "ElectionStatus": "status",
    "IntentResult": "intents",
    "ModelResult": "model",
    "ReceiptResult": "receipts",
    "SplitResult": "close",
    "audit_json": "status",
    "audit_trail": "status",
    "close_json": "close",
    "close_offer": "close",
    "employee_status": "status",
    "export_csv": "reports",
    "hr_report": "reports",
    "intent_json": "intents",
    "intent_reply": "intents",
    "latest_form": "intents",
    "model_json": "model",
    "model_options": "model",
    "model_reply": "model",
    "receipt_json": "receipts",
    "receipt_reply": "receipts",
    "record_intent": "intents",
    "record_receipt": "receipts",
    "record_split": "close",
    "record_withdrawal": "intents",
    "split_json": "close",
    "status_json": "status",
    "status_reply": "status",
}

__all__ = [
    "CloseResult",
    "ElectionStatus",
    "IntentResult",
    "ModelResult",
    "ReceiptResult",
    "SplitResult",
    "audit_json",
    "audit_trail",
    "close_json",
    "close_offer",
    "employee_status",
    "export_csv",
    "hr_report",
    "intent_json",
    "intent_reply",
    "latest_form",
    "model_json",
    "model_options",
    "model_reply",
    "receipt_json",
    "receipt_reply",
    "record_intent",
    "record_receipt",
    "record_split",
    "record_withdrawal",
    "split_json",
    "status_json",
    "status_reply",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
