"""The metrics service on SQLite and PostgreSQL after real operations (conversation, elections,
an HR receipt, SMTP delivery through aiosmtpd with a refusal), and `offerbot hr metrics` as a
real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.domain.hr_records import DeliveryState
from bot.services.metrics import collect_metrics, metrics_json
from tests.cli.runner import Ran
from tests.cli.runner import offerbot as in_process
from tests.email.servers import SmtpRecorder
from tests.ops.metrics_flows import (
    ABSTENTIONS,
    BACKLOG,
    FAILURES,
    FORMS,
    INTENTS,
    QUESTIONS,
    metrics_app,
    operate,
)


async def test_counts_match_what_happened(
    db_url: str, tmp_path: Path, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp
    async with metrics_app(tmp_path, port, db_url) as app:
        before = await collect_metrics(uow=app.uow(), clock=app.clock)
        assert before.abstentions == 0 and sum(before.intents.values()) == 0
        await operate(app, recorder)
        after = await collect_metrics(uow=app.uow(), clock=app.clock)
        async with app.uow() as uow:
            sent = await uow.deliveries.in_state(DeliveryState.SENT)
            unanswered = await uow.questions.unanswered()

    # in memory, for the whole test process: earlier tests may have asked on other channels
    asked = {c: n - before.questions_asked.get(c, 0) for c, n in after.questions_asked.items()}
    assert {c: n for c, n in asked.items() if n} == {"slack": QUESTIONS}
    assert after.abstentions == len(unanswered) >= ABSTENTIONS
    assert after.intents == INTENTS
    assert after.forms_received == FORMS
    assert after.outbox_backlog == BACKLOG
    assert after.send_failures == FAILURES
    assert len(recorder.accepted) >= 5  # confirmations, HR notices, the HR alert
    assert after.outbox_sent == {"email": len(recorder.accepted), "slack": 0}
    assert after.outbox_sent["email"] == len(sent)

    data = metrics_json(after)
    assert data["intents_recorded"] == {**INTENTS, "total": 3}
    assert data["signed_forms_received"]["total"] == 1
    assert data["send_failures"]["total"] == 1
    assert data["outbox_backlog"] == {**BACKLOG, "total": 1}
    assert data["outbox_sent"]["total"] == len(recorder.accepted)
    assert data["abstentions"] == len(unanswered)


def test_offerbot_hr_metrics_in_a_real_process(tmp_path: Path) -> None:
    """The operations run as commands in the test process (:mod:`tests.cli.runner`); the
    figures after them are read by a real `offerbot` process, which ran none of them, so they
    come from the database and not from one process's memory."""
    demo = {"OFFERBOT_DEMO_EMPLOYEES": "10"}

    def offerbot(*args: str, **extra: str) -> Ran:
        return in_process(tmp_path, *args, env={**demo, **extra})

    def real_process(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
        proc = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env={**env, **demo, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"offerbot {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    offerbot("init", "--demo", "--json")
    empty = json.loads(offerbot("hr", "metrics", "--json").stdout)
    assert empty["abstentions"] == 0 and empty["intents_recorded"]["total"] == 0
    offerbot("ask", "Does the zorblax quasiplasm clause apply?", "--json")
    offerbot("elect", "E1001", "--grant", "G00002", "--json")
    offerbot("withdraw", "E1001", "--json")
    # each process starts the demo clock at 09:00 again: look an hour later, when all are due
    later = "2003-07-10T10:00:00-07:00"
    data = json.loads(real_process("hr", "metrics", "--json", OFFERBOT_NOW=later).stdout)
    assert data["abstentions"] == 1
    assert data["intents_recorded"] == {"tender": 1, "withdraw": 1, "total": 2}
    assert data["signed_forms_received"]["total"] == 0
    # four messages queued, nothing sent: no SMTP configured; all due now
    assert data["outbox_backlog"] == {"email": 4, "slack": 0, "total": 4}
    assert data["outbox_sent"]["total"] == 0 and data["send_failures"]["total"] == 0
    text = offerbot("hr", "metrics", OFFERBOT_NOW=later).stdout
    assert "election intents recorded: 2 (tender 1, withdraw 1)" in text
    assert "outbox backlog (pending, due now): 4 (email 4)" in text
