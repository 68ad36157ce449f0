"""`offerbot doctor`: is this installation ready to run? One async check per part.

Each check returns a :class:`CheckResult` (name, status, detail, hint) and never raises for a
problem it was written to find: a refused connection, a wrong password or a database behind
its migrations is a ``fail`` with a hint, not a traceback. A part that is not configured (no
SMTP host, no IMAP host, no Slack token) is ``skip``. Nothing is written: no mail is sent, no
database file is created, no migration is applied.

The checks in order: configuration → database → offer → roster (each needs the one before),
then SMTP, IMAP and Slack, concurrently, each bounded by ``timeout`` seconds. The network
checks live in :mod:`bot.runtime.doctor_network`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import LOCAL_ENV_FILE, Settings, simulated_clock_from_file
from bot.domain.deadlines import (
    business_calendar,
    cancellation_date,
    commencement_instant,
    is_open,
    new_grant_date,
)
from bot.domain.eligibility import assess
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant
from bot.runtime.bootstrap import build_clock
from bot.runtime.doctor_network import check_imap, check_slack, check_smtp
from bot.runtime.doctor_results import CheckResult, Status
from knowledge.offer_terms import (
    OfferTermsError,
    bundled_offer_dir,
    load_offer_terms,
    terms_digest,
)
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, current_revision
from storage.uow import UnitOfWork

__all__ = [
    "CheckResult",
    "Status",
    "check_configuration",
    "check_database",
    "check_offer",
    "check_roster",
    "env_names",
    "run_checks",
]

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(slots=True)
class _Findings:
    """Problems one check collects before it settles on a status."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def result(self, name: str, ok_detail: str) -> CheckResult:
        if self.failures:
            status = Status.FAIL
        elif self.warnings:
            status = Status.WARN
        else:
            return CheckResult(name, Status.PASS, ok_detail)
        detail = "; ".join([*self.failures, *self.warnings, ok_detail])
        return CheckResult(name, status, detail, " ".join(self.hints))


def env_names() -> dict[str, str]:
    """{field name: environment variable} for every setting (``SLACK_*`` keep Slack's names)."""
    prefix = str(Settings.model_config.get("env_prefix") or "")
    names: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        if info.exclude:  # internal, e.g. the demo clock's anchor (part of OFFERBOT_NOW)
            continue
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [c for c in alias.choices if isinstance(c, str)]
            names[name] = next((c for c in choices if c.isupper()), (prefix + name).upper())
        elif isinstance(alias, str):
            names[name] = alias
        else:
            names[name] = (prefix + name).upper()
    return names


def _is_secret(field_name: str) -> bool:
    return Settings.model_fields[field_name].annotation in (SecretStr, SecretStr | None)


# --- configuration ---------------------------------------------------------------------------


def check_configuration(load: Callable[[], Settings]) -> tuple[CheckResult, Settings | None]:
    """Settings load and hang together; invalid values are named by their variable."""
    try:
        settings = load()
    except ValidationError as exc:
        names = env_names()
        by_alias = {v: k for k, v in names.items()}
        problems = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "?"
            field_name = by_alias.get(key, key)
            known_and_public = field_name in names and not _is_secret(field_name)
            shown = f" (got {error['input']!r})" if known_and_public else ""
            problems.append(f"{names.get(field_name, key)}: {error['msg']}{shown}")
        return (
            CheckResult(
                "configuration",
                Status.FAIL,
                "invalid settings: " + "; ".join(problems),
                "fix these variables in the environment, the EnvironmentFile or "
                f"{LOCAL_ENV_FILE} (see deploy/.env.example)",
            ),
            None,
        )
    return _configuration_coherence(settings), settings


def _configuration_coherence(s: Settings) -> CheckResult:
    f = _Findings()
    if s.smtp_host and not s.mail_from:
        f.failures.append("OFFERBOT_SMTP_HOST is set but OFFERBOT_MAIL_FROM is not")
        f.hints.append("Set OFFERBOT_MAIL_FROM, e.g. 'Offer assistant <offer@example.com>'.")
    if s.smtp_host and not s.hr_mailbox:
        f.warnings.append("OFFERBOT_HR_MAILBOX is unset: HR notices and alerts cannot be sent")
    if s.smtp_user and s.smtp_password is None:
        f.warnings.append("OFFERBOT_SMTP_USER is set without OFFERBOT_SMTP_PASSWORD")
    if s.imap_host and not (s.imap_user and s.imap_password):
        f.failures.append("OFFERBOT_IMAP_HOST is set but OFFERBOT_IMAP_USER/PASSWORD are not")
        f.hints.append("Set the mailbox login (OFFERBOT_IMAP_USER, OFFERBOT_IMAP_PASSWORD).")
    if s.smtp_host and s.smtp_tls == "false" and s.smtp_host not in LOOPBACK:
        f.warnings.append(f"OFFERBOT_SMTP_TLS=false to {s.smtp_host}: mail crosses unencrypted")
    if s.imap_host and not s.imap_tls and s.imap_host not in LOOPBACK:
        f.warnings.append(f"OFFERBOT_IMAP_TLS=false to {s.imap_host}: login crosses unencrypted")
    if s.slack_bot_token is not None:
        if not s.slack_bot_token.get_secret_value().startswith("xoxb-"):
            f.warnings.append("SLACK_BOT_TOKEN does not start with xoxb- (a bot token)")
        if s.slack_app_token is None and s.slack_signing_secret is None:
            f.warnings.append(
                "SLACK_BOT_TOKEN without SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: "
                "neither `offerbot run` nor `offerbot serve` can start"
            )
        if not s.hr_admins:
            f.warnings.append("OFFERBOT_HR_ADMINS is empty: nobody can use /offer-admin")
    if s.slack_app_token is not None and not s.slack_app_token.get_secret_value().startswith(
        "xapp-"
    ):
        f.warnings.append("SLACK_APP_TOKEN does not start with xapp- (an app-level token)")
    backend = make_url(s.database_url).get_backend_name()
    parts = [
        f"database {backend}",
        f"SMTP {'on' if s.smtp_host else 'off'}",
        f"IMAP {'on' if s.imap_host else 'off'}",
        f"Slack {'on' if s.slack_bot_token else 'off'}",
    ]
    if s.now is not None:
        parts.append(f"simulated clock from {s.now.isoformat()}")
        _simulated_clock_with_live_channels(s, f)
    if LOCAL_ENV_FILE.is_file():
        parts.append(f"also read {LOCAL_ENV_FILE}")
    return f.result("configuration", "settings load (" + ", ".join(parts) + ")")


def _simulated_clock_with_live_channels(s: Settings, f: _Findings) -> None:
    """A simulated clock decides every deadline: with real e-mail or Slack it would refuse or
    accept elections at the wrong time. From the demo's leftover file it fails the check; set
    on purpose in the environment (staging against test servers) it is a warning."""
    channels = [
        name
        for name, on in (
            ("SMTP", s.smtp_host),
            ("IMAP", s.imap_host),
            ("Slack", s.slack_bot_token is not None),
        )
        if on
    ]
    if not channels or s.now is None:
        return
    clock = f"the simulated clock (OFFERBOT_NOW={s.now.isoformat()})"
    live = f"{', '.join(channels)} {'is' if len(channels) == 1 else 'are'} configured"
    if simulated_clock_from_file(s):
        f.failures.append(
            f"{clock} comes from {LOCAL_ENV_FILE}, left by `offerbot init --demo`, while {live}"
        )
        f.hints.append(
            f"Delete the OFFERBOT_NOW line from {LOCAL_ENV_FILE} (a real deployment runs on "
            "the real clock), or set OFFERBOT_NOW in the environment if this is a staging run."
        )
    else:
        f.warnings.append(f"{clock} is set while {live}")
        f.hints.append("Unset OFFERBOT_NOW unless this is a staging run against test servers.")


# --- database --------------------------------------------------------------------------------


def _migration_heads() -> tuple[tuple[str, ...], set[str]]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = {r.revision for r in script.walk_revisions()}
    return tuple(script.get_heads()), known


def sqlite_file_missing(database_url: str) -> Path | None:
    """The SQLite file a URL names, when it does not exist (``None`` for other databases)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path


async def check_database(
    engine: AsyncEngine | None, database_url: str, *, timeout: float
) -> CheckResult:
    """Reachable, and migrated exactly to the newest Alembic revision of this version."""
    shown = make_url(database_url).render_as_string(hide_password=True)
    missing = sqlite_file_missing(database_url)
    if missing is not None or engine is None:
        return CheckResult(
            "database",
            Status.FAIL,
            f"no database file at {missing}",
            "run `offerbot init` (or `offerbot db upgrade`) to create it",
        )
    try:
        async with asyncio.timeout(timeout):
            revision = await current_revision(engine)
    except (TimeoutError, OSError, SQLAlchemyError) as exc:
        return CheckResult(
            "database",
            Status.FAIL,
            f"cannot connect to {shown}: {_one_line(exc) or 'timed out'}",
            "check OFFERBOT_DATABASE_URL, that the server runs and accepts this user",
        )
    heads, known = _migration_heads()
    head = ", ".join(heads)
    if revision is None:
        return CheckResult(
            "database",
            Status.FAIL,
            f"{shown} reachable but never migrated (head is {head})",
            "run `offerbot db upgrade` (or `offerbot init`)",
        )
    if revision in heads:
        return CheckResult("database", Status.PASS, f"{shown} at revision {revision} (head)")
    if revision not in known:
        return CheckResult(
            "database",
            Status.FAIL,
            f"{shown} at revision {revision}, which this version does not know (head {head})",
            "the database was migrated by a newer offerbot; run that version",
        )
    return CheckResult(
        "database",
        Status.FAIL,
        f"{shown} at revision {revision}, behind head {head}",
        "run `offerbot db upgrade`",
    )


# --- offer -----------------------------------------------------------------------------------


async def check_offer(
    settings: Settings, engine: AsyncEngine | None, *, now: datetime
) -> tuple[CheckResult, OfferTerms | None]:
    """offer.toml loads, its dates follow each other, and the stored state agrees with it."""
    offer_dir = settings.offer_dir
    try:
        offer_dir = offer_dir or bundled_offer_dir()
        terms = load_offer_terms(offer_dir)
        digest = terms_digest(offer_dir)
    except (OfferTermsError, OSError) as exc:
        return (
            CheckResult(
                "offer",
                Status.FAIL,
                f"cannot load offer.toml from {offer_dir or 'the bundled offer'}: {exc}",
                "check OFFERBOT_OFFER_DIR (a folder with offer.toml and the offer text)",
            ),
            None,
        )
    f = _Findings()
    zone = terms.deadline_zone
    if commencement_instant(terms) >= terms.original_expiration:
        f.failures.append("offer.toml: commencement is not before the expiration")
    if new_grant_date(terms, business_calendar(terms)) <= cancellation_date(terms):
        f.failures.append("offer.toml: the new grant date is not after the cancellation date")
    if engine is None:
        if f.failures:
            return f.result("offer", f"{terms.offer_id} loads from {offer_dir}"), None
        skipped = f"{terms.offer_id} loads; stored state not checked: database not ready"
        return CheckResult("offer", Status.SKIP, skipped), terms
    async with UnitOfWork(session_factory(engine)) as uow:
        state = await uow.offers.get(terms.offer_id)
    if state is None:
        f.failures.append(f"offer {terms.offer_id} is not loaded in the database")
        f.hints.append("Run `offerbot init`.")
        return f.result("offer", f"{terms.offer_id} loads from {offer_dir}"), terms
    if state.original_expiration != terms.original_expiration:
        f.failures.append(
            "the stored original expiration "
            f"({format_instant(state.original_expiration, zone)}) differs from offer.toml's"
        )
        f.hints.append("Is OFFERBOT_OFFER_DIR the offer this database was initialised with?")
    if state.expiration < state.original_expiration:
        f.failures.append(
            "the stored expiration is before the original one (an offer is only extended)"
        )
    if state.terms_digest != digest:
        f.warnings.append("offer.toml changed since the offer was loaded")
        f.hints.append("Check that the change was intended; dates come from the stored state.")
    live = terms.with_expiration(state.expiration.astimezone(zone))
    expires = format_instant(live.expiration, zone)
    if now.astimezone(UTC) < commencement_instant(live).astimezone(UTC):
        f.warnings.append(f"the offer has not started yet (at {now.isoformat()})")
    elif not is_open(live, now):
        f.warnings.append(f"the offer closed at {expires} (now {now.isoformat()})")
    extended = ", extended" if live.is_extended else ""
    return f.result("offer", f"{terms.offer_id}: expires {expires}{extended}"), live


# --- roster ----------------------------------------------------------------------------------


async def check_roster(
    settings: Settings, engine: AsyncEngine, terms: OfferTerms | None
) -> CheckResult:
    """Employees and grants are there; who is eligible; who cannot be reached.

    The roster is read a page at a time (issue 15): 100,000 grants are never all in memory,
    and only counts and the ids of people who cannot be reached are kept."""
    from bot.services.roster.audience import PAGE

    employees = grants = eligible = 0
    no_email: list[str] = []
    no_slack: list[str] = []
    async with UnitOfWork(session_factory(engine)) as uow:
        adjustments = tuple(await uow.adjustments.list_all())
        if terms is not None:
            cancellation = cancellation_date(terms)
            new_grant = new_grant_date(terms, business_calendar(terms))
        after: str | None = None
        while True:
            page = await uow.audience.page(after=after, limit=PAGE)
            if not page.employees:
                break
            after = page.last
            employees += len(page.employees)
            grants += len(page.grant_rows)
            by_employee: dict[str, list[Any]] = {}
            for g in page.grants:
                by_employee.setdefault(g.employee_id, []).append(g)
            for e in page.employees:
                if not e.email.strip():
                    no_email.append(e.employee_id)
                if not e.slack_user_id:
                    no_slack.append(e.employee_id)
                if terms is None:
                    continue
                assessed = assess(
                    e,
                    by_employee.get(e.employee_id, []),
                    terms,
                    cancellation=cancellation,
                    new_grant=new_grant,
                    adjustments=adjustments,
                )
                eligible += any(not g.reasons for g in assessed.grants)
        if not employees:
            grants = await uow.grants.count()
    if not employees:
        return CheckResult(
            "roster",
            Status.WARN,
            f"no employees imported ({grants} grants)",
            "import HR's roster: `offerbot import-roster EMPLOYEES.csv GRANTS.csv`",
        )
    detail = f"{employees:,} employees, {grants:,} grants"
    if terms is not None:
        detail += f", {eligible:,} eligible employees"
    f = _Findings()
    if no_email:
        f.warnings.append(f"{len(no_email)} without e-mail ({_sample(no_email)})")
        f.hints.append("Personal answers and forms go only to the e-mail on file.")
    if no_slack and settings.slack_bot_token is not None:
        f.warnings.append(
            f"{len(no_slack)} without a Slack user id, matched by e-mail ({_sample(no_slack)})"
        )
        f.hints.append("Fill slack_user_id in employees.csv and re-import.")
    return f.result("roster", detail)


def _sample(ids: list[str], shown: int = 3) -> str:
    more = f", … {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


# --- all of them -----------------------------------------------------------------------------


async def run_checks(
    load: Callable[[], Settings] = Settings, *, timeout: float = 5.0
) -> list[CheckResult]:
    """Every check in order; the parts that cannot be checked say why they were skipped."""
    configuration, settings = check_configuration(load)
    if settings is None:
        later = ("database", "offer", "roster", "SMTP", "IMAP", "Slack")
        return [
            configuration,
            *(CheckResult(n, Status.SKIP, "configuration is invalid") for n in later),
        ]
    engine = None
    if sqlite_file_missing(settings.database_url) is None:
        engine = create_engine(settings.database_url)
    try:
        local, smtp, imap, slack = await asyncio.gather(
            _local_checks(settings, engine, timeout=timeout),
            check_smtp(settings, timeout=timeout),
            check_imap(settings, timeout=timeout),
            check_slack(settings, timeout=timeout),
        )
    finally:
        if engine is not None:
            await engine.dispose()
    return [configuration, *local, smtp, imap, slack]


async def _local_checks(
    settings: Settings, engine: AsyncEngine | None, *, timeout: float
) -> list[CheckResult]:
    database = await check_database(engine, settings.database_url, timeout=timeout)
    ready = engine if database.status is Status.PASS else None
    now = build_clock(settings).now()
    try:
        offer, terms = await check_offer(settings, ready, now=now)
    except SQLAlchemyError as exc:
        offer, terms = CheckResult("offer", Status.FAIL, _one_line(exc)), None
    if ready is None:
        return [database, offer, CheckResult("roster", Status.SKIP, "database not ready")]
    try:
        roster = await check_roster(settings, ready, terms)
    except SQLAlchemyError as exc:
        roster = CheckResult("roster", Status.FAIL, _one_line(exc))
    return [database, offer, roster]
