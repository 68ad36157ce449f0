"""Each `offerbot doctor` check on its own, against real servers and real databases: SMTP
(plain, STARTTLS + AUTH, implicit TLS), Dovecot IMAP (plain and TLS), the fake Slack Web API,
SQLite and PostgreSQL at different migration levels, and offer states that do not add up."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.domain.records import OfferState
from bot.runtime.doctor import (
    Status,
    check_configuration,
    check_database,
    check_offer,
    check_roster,
    env_names,
)
from bot.runtime.doctor_network import BOT_SCOPES, check_imap, check_slack, check_smtp
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork
from tests.email.certs import ServerCerts
from tests.email.servers import (
    IMAP_PASSWORD,
    IMAP_USER,
    SmtpAuth,
    SmtpRecorder,
    running_dovecot,
    start_smtp,
)
from tests.servers import free_port
from tests.services.elections_setup import seed
from tests.slack.conftest import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
IN_WINDOW = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT
TIMEOUT = 5.0


def settings(**values: Any) -> Settings:
    """Settings from these values only (no environment file from the working directory)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- configuration ---------------------------------------------------------------------------


def test_configuration_names_secrets_without_their_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OFFERBOT_IMAP_PORT", "imap")
    result, loaded = check_configuration(lambda: settings(imap_password="hunter2", smtp_tls=7))
    assert loaded is None and result.status is Status.FAIL
    assert "OFFERBOT_IMAP_PORT: Input should be a valid integer" in result.detail
    assert "OFFERBOT_SMTP_TLS" in result.detail
    assert "hunter2" not in result.detail


def test_configuration_that_cannot_work_together() -> None:
    result, loaded = check_configuration(
        lambda: settings(smtp_host="mail.example.com", imap_host="imap.example.com")
    )
    assert loaded is not None and result.status is Status.FAIL
    assert "OFFERBOT_SMTP_HOST is set but OFFERBOT_MAIL_FROM is not" in result.detail
    assert "OFFERBOT_IMAP_HOST is set but OFFERBOT_IMAP_USER/PASSWORD are not" in result.detail
    assert "OFFERBOT_HR_MAILBOX is unset" in result.detail
    assert "Set OFFERBOT_MAIL_FROM" in result.hint


def test_configuration_warnings_do_not_fail() -> None:
    result, _ = check_configuration(
        lambda: settings(
            slack_bot_token="xoxp-user-token",
            smtp_host="mail.example.com",
            smtp_tls="false",
            mail_from="a@example.com",
            hr_mailbox="h@example.com",
        )
    )
    assert result.status is Status.WARN
    assert "SLACK_BOT_TOKEN does not start with xoxb-" in result.detail
    assert "neither `offerbot run` nor `offerbot serve` can start" in result.detail
    assert "OFFERBOT_SMTP_TLS=false to mail.example.com" in result.detail


def test_env_names_use_slacks_own_names() -> None:
    names = env_names()
    assert names["slack_bot_token"] == "SLACK_BOT_TOKEN"
    assert names["slack_api_url"] == "OFFERBOT_SLACK_API_URL"
    assert names["database_url"] == "OFFERBOT_DATABASE_URL"
    internal = {name for name, info in Settings.model_fields.items() if info.exclude}
    assert internal == {"now_anchor"}  # part of OFFERBOT_NOW, never a variable of its own
    assert set(names) == set(Settings.model_fields) - internal


# --- database and offer (SQLite and PostgreSQL) ----------------------------------------------


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The fresh database of ``db_url``, not migrated."""
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_database_levels(engine: AsyncEngine, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        absent = await check_database(engine, db_url, timeout=TIMEOUT)
        assert absent.status is Status.FAIL and absent.detail.startswith("no database file at")
        async with engine.connect():
            pass  # an empty file now exists
    never = await check_database(engine, db_url, timeout=TIMEOUT)
    assert never.status is Status.FAIL and "never migrated" in never.detail
    assert never.hint == "run `offerbot db upgrade` (or `offerbot init`)"
    await upgrade(engine, "0001")
    behind = await check_database(engine, db_url, timeout=TIMEOUT)
    assert behind.status is Status.FAIL and "at revision 0001, behind head" in behind.detail
    await upgrade(engine)
    head = await check_database(engine, db_url, timeout=TIMEOUT)
    assert head.status is Status.PASS and head.detail.endswith("(head)")


async def test_database_unreachable_postgres_fails_within_the_timeout() -> None:
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/offerbot"
    engine = create_engine(url)
    try:
        result = await check_database(engine, url, timeout=TIMEOUT)
    finally:
        await engine.dispose()
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"cannot connect to {url}: ")
    assert "OFFERBOT_DATABASE_URL" in result.hint


async def _store(engine: AsyncEngine, state: OfferState) -> None:
    async with UnitOfWork(session_factory(engine)) as uow:
        await uow.offers.save(state)
        await uow.commit()


async def test_offer_state_checks(engine: AsyncEngine) -> None:
    await upgrade(engine)
    s = settings()
    missing, _ = await check_offer(s, engine, now=IN_WINDOW)
    assert missing.status is Status.FAIL
    assert "offer capstone-2003 is not loaded in the database" in missing.detail
    assert missing.hint == "Run `offerbot init`."

    terms = load_offer_terms(bundled_offer_dir())
    state = OfferState(
        offer_id=terms.offer_id,
        expiration=terms.original_expiration,
        original_expiration=terms.original_expiration,
        terms_digest=terms_digest(bundled_offer_dir()),
        updated_at=IN_WINDOW,
    )
    await _store(engine, state)
    ok, live = await check_offer(s, engine, now=IN_WINDOW)
    assert ok.status is Status.PASS, ok
    assert ok.detail == "capstone-2003: expires 5:00 p.m. PDT on Thursday, July 24, 2003"
    assert live is not None and live.expiration == terms.original_expiration

    later = terms.original_expiration + timedelta(days=7)
    await _store(engine, dataclasses.replace(state, expiration=later))
    extended, _ = await check_offer(s, engine, now=IN_WINDOW)
    assert extended.status is Status.PASS
    assert extended.detail.endswith("July 31, 2003, extended")

    closed, _ = await check_offer(s, engine, now=later + timedelta(seconds=1))
    assert closed.status is Status.WARN and "the offer closed at" in closed.detail

    earlier = terms.original_expiration - timedelta(days=1)
    await _store(engine, dataclasses.replace(state, expiration=earlier, terms_digest="old"))
    broken, _ = await check_offer(s, engine, now=IN_WINDOW)
    assert broken.status is Status.FAIL
    assert "the stored expiration is before the original one" in broken.detail
    assert "offer.toml changed since the offer was loaded" in broken.detail


async def test_offer_file_that_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "offer.toml").write_text('offer_id = "x"\n')
    result, terms = await check_offer(settings(offer_dir=tmp_path), None, now=IN_WINDOW)
    assert result.status is Status.FAIL and terms is None
    assert f"cannot load offer.toml from {tmp_path}" in result.detail
    assert "OFFERBOT_OFFER_DIR" in result.hint


async def test_roster_counts_and_unreachable_people(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roster.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        terms = load_offer_terms(bundled_offer_dir())
        empty = await check_roster(settings(), engine, terms)
        assert empty.status is Status.WARN and "no employees imported" in empty.detail
        assert "offerbot import-roster" in empty.hint

        await seed(UnitOfWork(session_factory(engine)))
        ok = await check_roster(settings(), engine, terms)
        assert ok.status is Status.PASS, ok
        assert ok.detail.startswith("3 employees, ") and "eligible employees" in ok.detail

        async with UnitOfWork(session_factory(engine)) as uow:
            (first, *_) = await uow.employees.list_all()
            await uow.employees.upsert_many([dataclasses.replace(first, slack_user_id=None)])
            await uow.commit()
        without_slack = await check_roster(settings(), engine, terms)
        assert without_slack.status is Status.PASS  # Slack is off: nothing to warn about
        with_slack = await check_roster(settings(slack_bot_token="xoxb-t"), engine, terms)
        assert with_slack.status is Status.WARN
        assert f"1 without a Slack user id, matched by e-mail ({first.employee_id})" in (
            with_slack.detail
        )
    finally:
        await engine.dispose()


# --- SMTP ------------------------------------------------------------------------------------


def smtp_settings(port: int, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "false",
        "mail_from": "offer@capstone.example",
        "mail_hostname": "offerbot.test",
    }
    return settings(**{**base, **values})


async def test_smtp_starttls_and_auth(certs: ServerCerts) -> None:
    recorder = SmtpRecorder()
    server, port = await start_smtp(
        recorder,
        tls="starttls",
        context=certs.server_context(),
        auth=SmtpAuth("bot", "pw"),
    )
    try:
        common = {"smtp_tls": "starttls", "smtp_ca_file": str(certs.ca_file), "smtp_user": "bot"}
        ok = await check_smtp(smtp_settings(port, smtp_password="pw", **common), timeout=TIMEOUT)
        assert ok.status is Status.PASS, ok
        assert "EHLO ok (smtp.test), STARTTLS ok, AUTH ok as bot" in ok.detail
        assert recorder.logins and recorder.logins[0][1:] == ("bot", True)  # over TLS

        wrong = await check_smtp(
            smtp_settings(port, smtp_password="nope", **common), timeout=TIMEOUT
        )
        assert wrong.status is Status.FAIL and "login refused (535" in wrong.detail
        assert "OFFERBOT_SMTP_PASSWORD" in wrong.hint

        untrusted = await check_smtp(
            smtp_settings(port, smtp_tls="starttls", smtp_user="bot", smtp_password="pw"),
            timeout=TIMEOUT,
        )
        assert untrusted.status is Status.FAIL
        assert "OFFERBOT_SMTP_CA_FILE" in untrusted.hint
        assert recorder.accepted == []
    finally:
        server.close()
        await server.wait_closed()


async def test_smtp_implicit_tls(certs: ServerCerts) -> None:
    recorder = SmtpRecorder()
    server, port = await start_smtp(recorder, tls="implicit", context=certs.server_context())
    try:
        ok = await check_smtp(
            smtp_settings(port, smtp_tls="implicit", smtp_ca_file=str(certs.ca_file)),
            timeout=TIMEOUT,
        )
        assert ok.status is Status.PASS, ok
        assert "implicit TLS ok" in ok.detail
    finally:
        server.close()
        await server.wait_closed()


async def test_smtp_starttls_required_but_not_offered(smtp: tuple[SmtpRecorder, int]) -> None:
    result = await check_smtp(smtp_settings(smtp[1], smtp_tls="starttls"), timeout=TIMEOUT)
    assert result.status is Status.FAIL
    assert "STARTTLS" in result.detail and "after EHLO" not in result.detail


# --- IMAP ------------------------------------------------------------------------------------


def imap_settings(port: int, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "imap_host": "127.0.0.1",
        "imap_port": port,
        "imap_tls": False,
        "imap_user": IMAP_USER,
        "imap_password": IMAP_PASSWORD,
    }
    return settings(**{**base, **values})


async def test_imap_login_and_mailbox(imap_port: int) -> None:
    ok = await check_imap(imap_settings(imap_port), timeout=TIMEOUT)
    assert ok.status is Status.PASS, ok
    assert ok.detail == f"{IMAP_USER}@127.0.0.1:{imap_port}: login ok, INBOX selected (0 messages)"

    nowhere = await check_imap(imap_settings(imap_port, imap_mailbox="Nope"), timeout=TIMEOUT)
    assert nowhere.status is Status.FAIL and "cannot select Nope" in nowhere.detail


async def test_imap_wrong_password() -> None:
    # A Dovecot of its own: a failed login makes Dovecot delay the next login from 127.0.0.1
    # by seconds (auth penalty), which would slow the tests sharing the session's server.
    with running_dovecot() as server:
        wrong = await check_imap(imap_settings(server.port, imap_password="no"), timeout=TIMEOUT)
    assert wrong.status is Status.FAIL
    assert wrong.detail == (
        f"{IMAP_USER}@127.0.0.1:{server.port}: login refused "
        "([AUTHENTICATIONFAILED] Authentication failed.)"
    )
    assert wrong.hint == "check OFFERBOT_IMAP_USER and OFFERBOT_IMAP_PASSWORD"


async def test_imap_tls_as_configured(imaps_port: int, certs: ServerCerts) -> None:
    trusted = imap_settings(imaps_port, imap_tls=True, imap_ca_file=str(certs.ca_file))
    ok = await check_imap(trusted, timeout=TIMEOUT)
    assert ok.status is Status.PASS, ok

    untrusted = await check_imap(imap_settings(imaps_port, imap_tls=True), timeout=TIMEOUT)
    assert untrusted.status is Status.FAIL
    assert "OFFERBOT_IMAP_CA_FILE" in untrusted.hint

    # Plain text to a TLS port: aioimaplib waits for a greeting that never comes; the check's
    # own timeout ends it.
    plain_to_tls = await check_imap(imap_settings(imaps_port), timeout=0.5)
    assert plain_to_tls.status is Status.FAIL
    assert plain_to_tls.detail == f"{IMAP_USER}@127.0.0.1:{imaps_port}: timed out"


async def test_imap_nothing_listening() -> None:
    result = await check_imap(imap_settings(free_port()), timeout=TIMEOUT)
    assert result.status is Status.FAIL and "OFFERBOT_IMAP_HOST/PORT/TLS" in result.hint


# --- Slack -----------------------------------------------------------------------------------


def slack_settings(fake: FakeSlack) -> Settings:
    return settings(slack_bot_token="xoxb-test", slack_api_url=f"{fake.base_url}api/")


def granting(scopes: set[str] | frozenset[str]) -> Any:
    def answer(_params: dict[str, Any]) -> web.Response:
        body = {"ok": True, "team": "Capstone", "team_id": "T0001", "user_id": "UBOT"}
        return web.json_response(body, headers={"X-OAuth-Scopes": ",".join(sorted(scopes))})

    return answer


async def test_slack_scopes_granted(fake_slack: FakeSlack) -> None:
    fake_slack.overrides["auth.test"] = granting(BOT_SCOPES | {"channels:read"})
    result = await check_slack(slack_settings(fake_slack), timeout=TIMEOUT)
    assert result.status is Status.PASS, result
    assert result.detail == (
        "team Capstone (T0001), bot user UBOT; all 9 bot scopes (also granted: channels:read)"
    )
    assert len(fake_slack.of("auth.test")) == 1


async def test_slack_missing_scope_is_named(fake_slack: FakeSlack) -> None:
    fake_slack.overrides["auth.test"] = granting(BOT_SCOPES - {"users:read.email"})
    result = await check_slack(slack_settings(fake_slack), timeout=TIMEOUT)
    assert result.status is Status.FAIL
    assert result.detail.endswith("missing bot scopes: users:read.email")
    assert "reinstall the app" in result.hint


async def test_slack_without_scope_header_warns(fake_slack: FakeSlack) -> None:
    result = await check_slack(slack_settings(fake_slack), timeout=TIMEOUT)  # the default answer
    assert result.status is Status.WARN and "no x-oauth-scopes header" in result.detail


async def test_slack_invalid_token(fake_slack: FakeSlack) -> None:
    fake_slack.overrides["auth.test"] = lambda _p: web.json_response(
        {"ok": False, "error": "invalid_auth"}
    )
    result = await check_slack(slack_settings(fake_slack), timeout=TIMEOUT)
    assert result.status is Status.FAIL
    assert result.detail == f"auth.test at {fake_slack.base_url}api/: invalid_auth"
    assert "SLACK_BOT_TOKEN" in result.hint


def test_bot_scopes_match_the_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
