"""The questions' copy of the offer state on PostgreSQL (storage/offer_state_listener.py):
kept while the database notifies every change, dropped when the listening connection is.

Real processes and a real server: `offerbot hr extend` in a child process changes the deadline
and this process's next answer — once the notification is in, awaited on the listener's own
version, never a sleep — quotes the new one without a read per question; with the listening
connection killed (``pg_terminate_backend``) answers read the database again, and recover.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SimulatedClock, parse_instant
from bot.config import Settings
from bot.domain.records import OfferState
from bot.runtime.bootstrap import App, build
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms, load_offer
from bot.services.questions.conversation import respond
from storage import offer_state_listener
from storage.db import create_engine, session_factory
from storage.offer_reads import OfferStateReads, offer_state_reads
from storage.offer_state_listener import NAME, NO_TRIGGER, OfferStateListener
from storage.uow import UnitOfWork

pytestmark = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

NOW = "2003-07-10T09:00:00-07:00"
ASKER = Identity(channel="console", actor="console")
QUESTION = "When does the offer expire?"
ORIGINAL = "July 24, 2003"
EXTENDED = "2003-08-07T17:00:00-07:00"
LATER = "2003-08-14T17:00:00-07:00"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(db_engine: AsyncEngine, db_url: str) -> AsyncIterator[App]:
    application = build(
        Settings(database_url=db_url, now=NOW),  # type: ignore[call-arg]
        clock=SimulatedClock(parse_instant(NOW)),
    )
    try:
        await load_offer(
            uow=application.uow(),
            terms=application.base_terms,
            digest=application.terms_digest,
            now=datetime.now(UTC),
        )
        yield application
    finally:
        await application.aclose()


def _reads(app: App) -> tuple[OfferStateReads, OfferStateListener]:
    reads = offer_state_reads(app.sessions)
    assert reads is not None and reads.listener is not None
    return reads, reads.listener


async def _ask(app: App) -> str:
    return (await respond(text=QUESTION, identity=ASKER, deps=app.conversation())).text


async def _until(listener: OfferStateListener, trusted: bool) -> None:
    async with asyncio.timeout(20):
        while listener.trusted is not trusted:
            await listener.wait_for_change(listener.version)


async def _listening_and_kept(app: App) -> OfferStateReads:
    """Listening, and the copy filled by a read made since: the next answers read nothing."""
    reads, listener = _reads(app)
    await _ask(app)  # the first question starts the listener (and reads the database)
    await _until(listener, trusted=True)
    await _ask(app)  # read once more, now kept
    before = reads.database_reads
    assert ORIGINAL in await _ask(app)
    assert ORIGINAL in await _ask(app)
    assert reads.database_reads == before, "answered from the kept copy"
    return reads


async def test_an_extension_by_another_process_is_in_the_next_answer(
    app: App, db_url: str, tmp_path: Path
) -> None:
    reads = await _listening_and_kept(app)
    listener = reads.listener
    assert listener is not None
    version = listener.version

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
    env |= {"OFFERBOT_DATABASE_URL": db_url, "OFFERBOT_NOW": NOW, "PYTHONPATH": str(REPO)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "hr",
        "extend",
        "--to",
        EXTENDED,
        "--json",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await child.communicate()
    assert child.returncode == 0, stderr.decode()
    assert EXTENDED[:10] in stdout.decode()

    async with asyncio.timeout(20):  # the commit's notification (usually already in)
        await listener.wait_for_change(version)
    assert listener.trusted
    reads_before = reads.database_reads
    assert "August 7, 2003" in await _ask(app)
    assert "August 7, 2003" in await _ask(app)
    assert reads.database_reads == reads_before + 1, "one read after the notice, then kept"


async def test_answers_read_the_database_while_the_listener_is_down_and_recover(
    app: App, db_url: str
) -> None:
    reads = await _listening_and_kept(app)
    listener = reads.listener
    assert listener is not None
    # Hold the reconnect back, so the time without a listener lasts as long as the test needs.
    reconnect = asyncio.Event()
    connect = listener.connect

    async def held_back() -> asyncpg.Connection:
        await reconnect.wait()
        return await connect()

    listener.connect = held_back
    url = make_url(db_url)
    admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1 AND datname = $2",
            NAME,
            url.database,
        )
        assert killed == 1
    finally:
        await admin.close()
    await _until(listener, trusted=False)

    # Changed meanwhile by another engine (another process): the notice goes to nobody.
    other = create_engine(db_url)
    try:
        await _save_expiration(UnitOfWork(session_factory(other)), EXTENDED)
    finally:
        await other.dispose()
    before = reads.database_reads
    assert "August 7, 2003" in await _ask(app)
    assert "August 7, 2003" in await _ask(app)
    assert reads.database_reads == before + 2, "no listener: every question reads"

    reconnect.set()
    await _until(listener, trusted=True)
    assert "August 7, 2003" in await _ask(app)  # the first read after reconnecting
    kept = reads.database_reads
    assert "August 7, 2003" in await _ask(app)
    assert reads.database_reads == kept, "kept again"

    # And the notices flow again: a change made now is in the next answer after its notice.
    version = listener.version
    await _save_expiration(app.uow(), LATER)
    async with asyncio.timeout(20):
        await listener.wait_for_change(version)
    assert "August 14, 2003" in await _ask(app)


async def test_a_change_committed_in_this_process_is_in_the_next_answer_at_once(
    app: App,
) -> None:
    """HR extends from the same process (the console, a Slack command): its commit drops the
    copy itself, without waiting for its own notification to come back."""
    reads = await _listening_and_kept(app)
    before = reads.database_reads
    await _save_expiration(app.uow(), EXTENDED)
    assert "August 7, 2003" in await _ask(app)
    assert reads.database_reads == before + 1


class _FreezableProxy:
    """A TCP relay to the server that can go silent — stop relaying without closing anything,
    as a pulled cable or a firewall that forgot the flow does: no FIN, no RST."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.frozen = asyncio.Event()
        self.server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            if self.frozen.is_set():
                await asyncio.Future()  # silent from now on; cancelled by close()
            sink.write(data)
            await sink.drain()

    async def close(self) -> None:
        for task in list(self._pipes):
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_connection_gone_silent_is_found_by_the_heartbeat(
    app: App, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No FIN, no RST: only the heartbeat (a ``SELECT 1`` that must answer in time) finds it.
    The heartbeat is shortened to 0.2 s here; the test itself waits on the listener's state."""
    monkeypatch.setattr(offer_state_listener, "HEARTBEAT_S", 0.2)
    url = make_url(db_url)
    proxy = _FreezableProxy(str(url.host), int(url.port or 5432))
    port = await proxy.start()
    reads, listener = _reads(app)

    async def through_the_proxy() -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1", port=port, user=url.username, database=url.database
        )

    listener.connect = through_the_proxy
    try:
        await _listening_and_kept(app)
        reconnect = asyncio.Event()

        async def held_back() -> asyncpg.Connection:
            await reconnect.wait()
            return await through_the_proxy()

        listener.connect = held_back
        proxy.frozen.set()
        await _until(listener, trusted=False)
        before = reads.database_reads
        assert ORIGINAL in await _ask(app)
        assert reads.database_reads == before + 1, "not trusted: read"
    finally:
        await proxy.close()


async def test_without_the_trigger_nothing_is_kept(app: App, db_url: str) -> None:
    """A database not migrated to 0015 (or its trigger dropped by hand) sends no notices: the
    listener sees it and every question reads the database."""
    url = make_url(db_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await admin.execute("DROP TRIGGER offer_state_notify ON offer_state")
    finally:
        await admin.close()
    reads, listener = _reads(app)
    await _ask(app)
    async with asyncio.timeout(20):
        while listener.state != NO_TRIGGER:
            await listener.wait_for_change(listener.version)
    before = reads.database_reads
    for _ in range(3):
        assert ORIGINAL in await _ask(app)
    assert reads.database_reads == before + 3
    assert not listener.trusted


async def test_deciding_reads_never_use_the_kept_copy(app: App) -> None:
    """An election or an extension reads the committed row itself (``current_terms`` without
    ``for_question``): a copy is never what a legal decision rests on."""
    reads = await _listening_and_kept(app)
    before = reads.database_reads
    terms = await current_terms(uow=app.uow(), terms=app.base_terms)
    assert terms.expiration == app.base_terms.original_expiration
    assert reads.database_reads == before + 1


async def _save_expiration(uow: UnitOfWork, expiration: str) -> None:
    async with uow:
        state = await uow.offers.lock("capstone-2003")
        assert state is not None
        await uow.offers.save(
            OfferState(
                offer_id=state.offer_id,
                expiration=parse_instant(expiration),
                original_expiration=state.original_expiration,
                terms_digest=state.terms_digest,
                updated_at=datetime.now(UTC),
            )
        )
        await uow.commit()
