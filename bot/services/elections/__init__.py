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
