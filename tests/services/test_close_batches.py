"""`hr close` in bounded batches under a durable close run, on SQLite and PostgreSQL: each
letter issued once, a run cut off mid-way resumes where it stopped, the offer is closing from the
first moment, and no letter goes out unsigned."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.config import Settings
from bot.domain.close_run import CloseRun
from bot.domain.elections import Delivery, FormKind
from bot.domain.hr_records import MessageKind
from bot.domain.roster import EmployeeStatus
from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.elections.close import NO_SIGNER, MissingSignerError, resolve_signer
from bot.services.elections.offer_closing import OfferClosingError
from bot.services.offer.extension import extend_offer
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms
from storage.uow import UnitOfWork
from tests.conftest import seeded_once
from tests.services.close_setup import SIGNER, MemoryLetters, close
from tests.services.elections_setup import HR, NOW, option, person

HOLDERS = [f"E{100 + i}" for i in range(30)]
CLOSED_AT = datetime.fromisoformat("2003-07-25T09:00:00-07:00")


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


@pytest.fixture
async def tendered(db_url: str, uow: UnitOfWork, terms: OfferTerms) -> UnitOfWork:
    """30 holders with a received Election Form, one who withdrew, one who left since. (Written
    once per backend, each test closes its own copy: :func:`tests.conftest.seeded_once`.)"""

    async def build(uow: UnitOfWork) -> None:
        await _thirty_holders(uow, terms)

    await seeded_once(db_url, "close-batches", build)
    return uow


async def _thirty_holders(uow: UnitOfWork, terms: OfferTerms) -> None:
    await load_offer(uow=uow, terms=terms, digest="test", now=NOW)
    people = [person(e, f"Holder {e}") for e in [*HOLDERS, "E900", "E901"]]
    async with uow:
        await uow.employees.upsert_many(people)
        await uow.grants.upsert_many([option(f"G{e[1:]}", e, "3.33", 1000) for e in HOLDERS])
        await uow.grants.upsert_many(
            [option("G900", "E900", "4.00", 500), option("G901", "E901", "5.00", 700)]
        )
        await uow.commit()
    for employee_id in [*HOLDERS, "E900", "E901"]:
        intent = await elections.record_intent(
            uow=uow,
            terms=terms,
            employee_id=employee_id,
            grant_numbers=[f"G{employee_id[1:]}"],
            identity=HR,
            now=NOW,
        )
        await receive(uow, terms, employee_id, intent.intent.version, FormKind.ELECTION)
    await elections.record_withdrawal(
        uow=uow, terms=terms, employee_id="E900", identity=HR, now=NOW + timedelta(minutes=5)
    )
    await receive(uow, terms, "E900", 2, FormKind.WITHDRAWAL)
    async with uow:
        left = replace(person("E901", "Holder E901"), status=EmployeeStatus.TERMINATED)
        await uow.employees.upsert_many([left])
        await uow.commit()


async def receive(
    uow: UnitOfWork, terms: OfferTerms, employee_id: str, version: int, form: FormKind
) -> None:
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id=employee_id,
        form=form,
        version=version,
        received_at=NOW + timedelta(hours=1),
        via=Delivery.FAX,
        identity=HR,
        now=NOW + timedelta(hours=1),
    )


async def letters_in_outbox(uow: UnitOfWork) -> Counter[str]:
    async with uow:
        messages = await uow.outbox.by_kind(MessageKind.PROMISE_TO_GRANT)
    return Counter(m.employee_id or "" for m in messages)


async def test_close_runs_in_batches_and_issues_each_letter_once(
    tendered: UnitOfWork, terms: OfferTerms
) -> None:
    letters = MemoryLetters()
    seen: list[CloseRun] = []
    result = await elections.close_offer(
        uow=tendered,
        terms=terms,
        identity=HR,
        now=CLOSED_AT,
        signer=SIGNER,
        letters=letters,
        batch_size=7,
        progress=seen.append,
    )
    run = result.run
    assert run.finished and not result.resumed
    assert (run.total, run.done, run.batches) == (32, 32, 5)  # 7 + 7 + 7 + 7 + 4
    assert (run.accepted, run.letters, run.rejected, run.withdrawn) == (30, 30, 1, 1)
    assert [r.done for r in seen] == [0, 7, 14, 21, 28, 32, 32]  # start, batches, finish
    assert letters.flushes == 5  # the PDFs made durable before each batch's commit
    assert sorted(letters.files) == sorted(f"promise-to-grant-{e}.pdf" for e in HOLDERS)
    assert result.withdrawn == ("E900",)
    ((who, why),) = result.rejected
    assert who == "E901" and "employee" in why
    outbox = await letters_in_outbox(tendered)
    assert outbox == Counter(HOLDERS)  # one each, nobody twice
    async with tendered:
        accepted = await tendered.accepted.list_all()
        accept_rows = await tendered.audit.with_action("election.accept")
        finish = await tendered.audit.with_action("offer.close.finish")
    assert len(accepted) == 30 and len(accept_rows) == 30
    assert finish[0].detail["letters"] == 30
    reader = PdfReader(io.BytesIO(letters.files["promise-to-grant-E117.pdf"]))
    text = " ".join(reader.pages[0].extract_text().split())
    assert "Holder E117" in text and "Date issued: Friday, July 25, 2003" in text
    assert "/s/ Wade Welch" in text and "legally obligated" in text

    again = await close(tendered, terms, identity=HR, now=CLOSED_AT + timedelta(hours=1))
    assert again.run.letters == 0 and again.run.accepted == 30  # nothing issued twice
    assert await letters_in_outbox(tendered) == Counter(HOLDERS)


class CrashingLetters(MemoryLetters):
    """The disk fails at the ``fail_at``-th letter: the batch in progress must not count."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def write(self, filename: str, content: bytes) -> None:
        if self.writes + 1 == self.fail_at:
            raise OSError(28, "No space left on device")
        super().write(filename, content)


async def test_a_close_cut_off_mid_run_resumes_where_it_stopped(
    tendered: UnitOfWork, terms: OfferTerms
) -> None:
    crashing = CrashingLetters(fail_at=10)  # batches of 4: two commit, the third breaks
    with pytest.raises(OSError, match="No space left"):
        await close(tendered, terms, identity=HR, now=CLOSED_AT, letters=crashing, batch_size=4)
    async with tendered:
        stopped = await tendered.close_runs.unfinished(terms.offer_id)
    assert stopped is not None and (stopped.done, stopped.batches) == (8, 2)
    assert sum((await letters_in_outbox(tendered)).values()) == 8

    # The offer is closing: nothing may change what the close is accepting.
    with pytest.raises(OfferClosingError, match="HR has closed the offer"):
        await receive(tendered, terms, "E100", 1, FormKind.ELECTION)
    with pytest.raises(OfferClosingError):
        await elections.record_intent(
            uow=tendered,
            terms=terms,
            employee_id="E101",
            grant_numbers=["G101"],
            identity=HR,
            now=NOW,
        )
    with pytest.raises(Exception, match="The offer was closed"):
        await extend_offer(
            uow=tendered,
            base_terms=terms,
            settings=Settings(),
            identity=HR,
            new_expiration=terms.expiration + timedelta(days=14),
            announce=False,
            now=CLOSED_AT,
        )

    rerun = MemoryLetters()
    result = await close(tendered, terms, identity=HR, now=CLOSED_AT, letters=rerun, batch_size=50)
    assert result.resumed and result.run.finished and result.run.id == stopped.id
    assert result.run.batch_size == 4  # the run's own batches, whatever the rerun asked
    assert (result.run.letters, result.run.accepted) == (30, 30)
    assert await letters_in_outbox(tendered) == Counter(HOLDERS)  # 0 duplicated, 0 missing
    on_disk = set(crashing.files) | set(rerun.files)
    assert on_disk == {f"promise-to-grant-{e}.pdf" for e in HOLDERS}
    # the cut-off batch's letter written before the failure is rewritten with the same bytes
    redone = set(crashing.files) & set(rerun.files)
    assert redone and all(crashing.files[n] == rerun.files[n] for n in redone)


async def test_no_signer_no_close(tendered: UnitOfWork, terms: OfferTerms) -> None:
    with pytest.raises(MissingSignerError, match="No officer is set to sign"):
        await elections.close_offer(
            uow=tendered,
            terms=terms,
            identity=HR,
            now=CLOSED_AT,
            signer=None,
            letters=MemoryLetters(),
        )
    async with tendered:
        assert await tendered.close_runs.latest(terms.offer_id) is None
        assert await tendered.audit.with_action("offer.close") == []
    assert sum((await letters_in_outbox(tendered)).values()) == 0


def test_the_signer_comes_from_settings_or_offer_toml(tmp_path: Path) -> None:
    chosen = resolve_signer(Settings(signer_name=" Wade Welch ", signer_title="VP Finance"))
    assert (chosen.name, chosen.title, chosen.demo) == ("Wade Welch", "VP Finance", False)
    assert resolve_signer(Settings()).demo  # the bundled offer's demo placeholder
    with pytest.raises(MissingSignerError, match="both OFFERBOT_SIGNER_NAME"):
        resolve_signer(Settings(signer_name="Wade Welch"))
    unsigned = tmp_path / "offer"
    unsigned.mkdir()
    toml = (bundled_offer_dir() / "offer.toml").read_text(encoding="utf-8")
    head, _, rest = toml.partition("[signer]")
    unsigned.joinpath("offer.toml").write_text(head + rest.split("\n\n", 1)[1], encoding="utf-8")
    with pytest.raises(MissingSignerError) as refused:
        resolve_signer(Settings(offer_dir=unsigned))
    assert str(refused.value) == NO_SIGNER


def _roster_files(folder: Path, grant_owner: dict[str, str]) -> tuple[Path, Path]:
    """employees.csv with E950 (new) and the grants named in ``grant_owner`` (number → holder),
    each as ``option`` writes it (2001-11-01, ISO, $3.33, 1,000 shares)."""
    from bot.domain.roster import EMPLOYEE_COLUMNS, GRANT_COLUMNS

    employees, grants = folder / "employees.csv", folder / "grants.csv"
    people = [("E950", "New Hire", "e950@example.com", "", "US", "active", "employee")]
    people += [(e, f"Holder {e}", f"{e.lower()}@example.com", f"U{e[1:]}", "US", "active",
                "employee") for e in sorted(set(grant_owner.values()) - {"E950"})]  # fmt: skip
    employees.write_text(
        "\n".join(",".join(row) for row in [EMPLOYEE_COLUMNS, *people]) + "\n", encoding="utf-8"
    )
    rows = [
        (number, owner, "2000 Equity Incentive Plan", "2001-11-01", "ISO", "3.33", "1000", "0",
         "2011-11-01", "") for number, owner in grant_owner.items()
    ]  # fmt: skip
    grants.write_text(
        "\n".join(",".join(row) for row in [GRANT_COLUMNS, *rows]) + "\n", encoding="utf-8"
    )
    return employees, grants


async def test_no_roster_import_while_a_close_runs_and_no_voided_tender_after(
    tendered: UnitOfWork, terms: OfferTerms, tmp_path: Path
) -> None:
    """The close reads grants batch by batch: a roster written between two batches would change
    what it accepts. Once it finished, an import may add people, but not void what it accepted."""
    from bot.services.roster.import_roster import RosterImportError, import_roster

    new_grant = _roster_files(tmp_path, {"G950": "E950"})
    with pytest.raises(OSError, match="No space left"):
        await close(
            tendered, terms, identity=HR, now=CLOSED_AT, letters=CrashingLetters(fail_at=6),
            batch_size=4,
        )  # fmt: skip
    with pytest.raises(OfferClosingError, match="HR is closing the offer"):
        await import_roster(
            uow=tendered, offer_id=terms.offer_id, employees_csv=new_grant[0],
            grants_csv=new_grant[1], now=CLOSED_AT,
        )  # fmt: skip
    async with tendered:
        assert await tendered.grants.get("G950") is None  # nothing written

    finished = await close(tendered, terms, identity=HR, now=CLOSED_AT, batch_size=50)
    assert finished.run.finished and finished.run.accepted == 30
    added = await import_roster(
        uow=tendered, offer_id=terms.offer_id, employees_csv=new_grant[0],
        grants_csv=new_grant[1], now=CLOSED_AT,
    )  # fmt: skip
    assert added.grants.inserted == 1

    # an accepted tender's grant can no longer move, --allow-reassign or not (as before) …
    moved = _roster_files(tmp_path, {"G100": "E950"})
    with pytest.raises(RosterImportError, match="1 error"):
        await import_roster(
            uow=tendered, offer_id=terms.offer_id, employees_csv=moved[0],
            grants_csv=moved[1], now=CLOSED_AT, allow_reassign=True,
        )  # fmt: skip
    # … and a tender the close did not accept (E901 had left) is not voided after it either
    moved = _roster_files(tmp_path, {"G901": "E950"})
    with pytest.raises(OfferClosingError, match="cannot void a tender"):
        await import_roster(
            uow=tendered, offer_id=terms.offer_id, employees_csv=moved[0],
            grants_csv=moved[1], now=CLOSED_AT, allow_reassign=True,
        )  # fmt: skip
    async with tendered:
        kept = [await tendered.grants.get(n) for n in ("G100", "G901")]
    assert [g.employee_id for g in kept if g is not None] == ["E100", "E901"]
