"""The issue's acceptance scenario through the real command line: a question mailed from
E1001's address on file, `offerbot worker --once` twice, exactly one threaded reply."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import sys
from pathlib import Path

from tests.cli.runner import offerbot as in_process
from tests.email.servers import IMAP_PASSWORD, IMAP_USER, SmtpRecorder, deliver, mail

CITATION = re.compile(r"\[[A-Z][A-Z0-9-]* · .+ · p\. [0-9ivx-]+\]")


async def _offerbot(cwd: Path, env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_worker_once_answers_exactly_once(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERBOT_")}
    env.update(
        OFFERBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'offerbot.db'}",
        OFFERBOT_IMAP_HOST="127.0.0.1",
        OFFERBOT_IMAP_PORT=str(imap_port),
        OFFERBOT_IMAP_USER=IMAP_USER,
        OFFERBOT_IMAP_PASSWORD=IMAP_PASSWORD,
        OFFERBOT_IMAP_TLS="false",
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(smtp_port),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_MAIL_FROM="offerbot@capstone.example",
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
    )
    # set-up in the test process (tests.cli.runner); the two workers are real processes
    ours = {k: v for k, v in env.items() if k.startswith("OFFERBOT_")}
    await asyncio.to_thread(in_process, tmp_path, "init", "--demo", "--json", env=ours)
    with (tmp_path / ".offerbot/demo/employees.csv").open(newline="") as f:
        on_file = next(r["email"] for r in csv.DictReader(f) if r["employee_id"] == "E1001")
    await deliver(
        imap_port,
        mail(
            sender=on_file.upper(),
            subject="Deadline",
            body="When does the offer expire?",
            message_id="<accept-1@client.example>",
        ),
    )
    first = json.loads(await _offerbot(tmp_path, env, "worker", "--once", "--json"))
    second = json.loads(await _offerbot(tmp_path, env, "worker", "--once", "--json"))
    assert (first["mail_read"], first["sent"]) == (1, 1)
    assert (second["mail_read"], second["sent"]) == (0, 0)
    [reply] = recorder.messages()
    assert recorder.accepted[0][1] == [on_file]
    assert reply["In-Reply-To"] == "<accept-1@client.example>"
    text = reply.get_body(("plain",)).get_content()
    assert "July 24, 2003" in text and CITATION.search(text)
