"""Election use cases, in one import for channels and the CLI.

Split by idea (each module stays small):

- ``election_intents``   record_intent / record_withdrawal (tender, change, withdraw, re-tender)
- ``election_receipts``  record_receipt (HR logs a signed form; late ones refused)
- ``election_status``    employee_status, audit_trail
- ``election_reports``   hr_report, export_csv
- ``election_close``     close_offer (accept, Promise to Grant), record_split
- ``election_model``     model_options (neutral illustration)
- ``election_wording``   every sentence the above say (no offer facts in code)

Reply builders (``intent_reply``, ``status_reply``, ``receipt_reply``, ``model_reply``) give the
channel-neutral :class:`~bot.replies.Reply` that Slack, e-mail and the console render.
"""

from __future__ import annotations

from bot.services.election_close import (
    CloseResult,
    SplitResult,
    close_json,
    close_offer,
    record_split,
    split_json,
)
from bot.services.election_intents import (
    IntentResult,
    intent_json,
    intent_reply,
    latest_form,
    record_intent,
    record_withdrawal,
)
from bot.services.election_model import ModelResult, model_json, model_options, model_reply
from bot.services.election_receipts import (
    ReceiptResult,
    receipt_json,
    receipt_reply,
    record_receipt,
)
from bot.services.election_reports import export_csv, hr_report
from bot.services.election_status import (
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
