"""Settings: the only module that reads the environment.

Every variable is prefixed ``OFFERBOT_`` (Slack's own ``SLACK_*`` names are read where the
Slack issue adds them). Values are validated when the settings are built, so a bad value stops
the program at start-up with a message naming the variable instead of failing later.
"""

from __future__ import annotations

import os
from datetime import datetime, time
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.clock import parse_instant

__all__ = ["DEFAULT_DATABASE_URL", "LOCAL_ENV_FILE", "Settings", "simulated_clock_from_file"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./.offerbot/offerbot.db"
# Written by `offerbot init --demo` (the demo's simulated clock); real environment variables win.
LOCAL_ENV_FILE = Path(".offerbot/offerbot.env")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OFFERBOT_", env_file=LOCAL_ENV_FILE, extra="ignore", frozen=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLite file (WAL, `synchronous=FULL`) or "
        "`postgresql+asyncpg://user:pw@host:5432/db` (`sqlite:///` and `postgresql://` are "
        "accepted and mapped to the async drivers).",
    )
    sqlite_busy_timeout: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Seconds a command waits for another process's write lock on the SQLite "
        'file; past it the command stops with one sentence ("The database stayed locked by '
        'other offerbot commands …; run it again", exit 1) instead of a traceback.',
    )
    now: datetime | None = Field(
        None,
        description="Unset: the system clock. An ISO instant with offset, e.g. "
        "`2003-07-10T09:00:00-07:00`, starts a simulated clock that advances in real time from "
        "there (each process from its own start); `SIMULATED@REAL` (e.g. "
        "`2003-07-10T09:00:00-07:00@2026-11-24T00:03:43+00:00`): the simulated time stood at "
        "`SIMULATED` at the real instant `REAL`, so every process given the same value shares "
        "one simulated time (demo and staging).",
    )
    # Internal: filled from OFFERBOT_NOW=<simulated>@<real anchor>, so that a NOW set in the
    # environment replaces both and is never shifted by an anchor left in the demo's env file.
    now_anchor: datetime | None = Field(
        None,
        validation_alias="offerbot_internal_now_anchor",
        exclude=True,
        description="The real instant at which the simulated clock stood at OFFERBOT_NOW.",
    )
    offer_dir: Path | None = Field(
        None,
        description="Folder with `offer.toml` and the offer text; unset: the bundled "
        "`capstone-2003`.",
    )
    signer_name: str | None = Field(
        None,
        description="Officer who signs the Promise to Grant letters (`hr close`); overrides "
        "`[signer] name` in `offer.toml`. Set together with `signer_title`.",
    )
    signer_title: str | None = Field(
        None, description="That officer's title, e.g. `Chief Financial Officer`."
    )
    demo_seed: int = Field(2003, description="Seed of the deterministic demo roster.")
    demo_employees: int = Field(
        600, ge=10, le=100_000, description="Size of the deterministic demo roster."
    )

    # --- e-mail (issue 6): IMAP inbox, SMTP outbox, HR mailbox --------------------------------
    imap_host: str | None = Field(None, description="IMAP server; unset: the inbox is not read.")
    imap_port: int = Field(993, ge=1, le=65535, description="Port of the IMAP server.")
    imap_user: str | None = Field(None, description="Mailbox login: user name.")
    imap_password: SecretStr | None = Field(None, description="Mailbox login: password.")
    imap_tls: bool = Field(True, description="Implicit TLS; false only for a loopback server.")
    imap_ca_file: str | None = Field(
        None, description="PEM CA bundle to verify the IMAP server; unset: the system store."
    )
    imap_mailbox: str = Field("INBOX", description="The folder questions arrive in.")
    imap_processed: str = Field(
        "flag",
        description="Mark processed mail: `flag` (`\\Seen` + `$Offerbot`) or `move:FOLDER`.",
    )
    imap_poll_seconds: float = Field(60.0, gt=0, description="Poll interval when IDLE is off.")
    imap_idle: bool = Field(True, description="Wait with IMAP IDLE (re-issued every 25 min).")
    smtp_host: str | None = Field(None, description="SMTP server; unset: e-mail is not sent.")
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_user: str | None = Field(None, description="SMTP AUTH user, if the server wants it.")
    smtp_password: SecretStr | None = Field(
        None, description="SMTP AUTH password, if the server wants it."
    )
    smtp_tls: str = Field(
        "starttls", description="'starttls', 'implicit' (port 465) or 'false' (loopback only)."
    )
    smtp_ca_file: str | None = Field(
        None, description="PEM CA bundle to verify the SMTP server; unset: the system store."
    )
    smtp_timeout: float = Field(60.0, gt=0, description="Seconds per SMTP command.")
    mail_from: str | None = Field(
        None,
        description="From of every e-mail, e.g. `Example Corp offer assistant "
        "<offer@example.com>`; required with SMTP.",
    )
    mail_hostname: str = Field("offerbot.localhost", description="EHLO name, Message-ID domain.")
    hr_mailbox: str | None = Field(
        None,
        description="HR's address: intent notices, delivery-failure alerts (`role:hr` in the "
        "outbox).",
    )
    mail_trusted_authserv_id: str | None = Field(
        None,
        description="If set, a sender counts as verified only with "
        "`Authentication-Results: <id>; dmarc=pass`.",
    )
    mail_rate_per_hour: int = Field(20, ge=1, description="Replies per sender per hour.")
    # Limits checked before an inbound e-mail is parsed (the stdlib's header parser is
    # quadratic); a message over one is recorded as rejected and never read again.
    mail_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest inbound e-mail (bytes; 10 MiB); the IMAP server's `RFC822.SIZE` "
        "is asked first, so a larger message is never downloaded.",
    )
    mail_max_header_bytes: int = Field(
        64 * 1024,
        ge=8 * 1024,
        description="All header fields of an inbound e-mail together, the message's and its "
        "MIME parts' (bytes).",
    )
    mail_max_header_field_bytes: int = Field(
        16 * 1024,
        ge=1024,
        description="One header field of an inbound e-mail, its folded lines together (bytes).",
    )
    mail_max_encoded_words: int = Field(
        500,
        ge=10,
        description="RFC 2047 encoded words (`=?charset?q?…?=`) in all header fields of an "
        "inbound e-mail together.",
    )
    outbox_concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="Messages in flight per channel (and SMTP connections kept open); 10 for "
        "a relay that allows it.",
    )
    outbox_ambiguous_retry_minutes: float = Field(
        30.0,
        ge=0,
        description="An ambiguous receipt confirmation, intent confirmation, Promise to Grant or "
        "announcement (extension or amendment notice) is sent once more this long after, with "
        "the same Message-ID; 0 = at once.",
    )

    @field_validator("smtp_tls")
    @classmethod
    def _smtp_tls_mode(cls, value: str) -> str:
        value = value.strip().lower()
        value = {"true": "starttls", "0": "false", "no": "false", "ssl": "implicit"}.get(
            value, value
        )
        if value not in ("starttls", "implicit", "false"):
            raise ValueError("OFFERBOT_SMTP_TLS must be starttls, implicit or false")
        return value

    @field_validator("imap_processed")
    @classmethod
    def _processed_mode(cls, value: str) -> str:
        if value != "flag" and not (value.startswith("move:") and len(value) > 5):
            raise ValueError("OFFERBOT_IMAP_PROCESSED must be 'flag' or 'move:FOLDER'")
        return value

    @field_validator("mail_from", "hr_mailbox")
    @classmethod
    def _ascii_local_part(cls, value: str | None) -> str | None:
        # SMTP without SMTPUTF8 cannot carry a non-ASCII local part: every message would fail.
        address = parseaddr(value or "")[1]
        if not address.rpartition("@")[0].isascii():
            raise ValueError("the address's part before @ must be ASCII (SMTPUTF8 is not used)")
        return value

    # --- end of e-mail settings ----------------------------------------------------------------

    # --- Slack (issue 5): tokens, signing secret, Web API, HR admins -------------------------
    # Slack's own variable names (no OFFERBOT_ prefix); the field names work as keywords too.
    slack_bot_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token"),
        description="Bot token (xoxb-…); unset: `offerbot run`/`serve` exit with status 2.",
    )
    slack_app_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "slack_app_token"),
        description="App-level token (xapp-…, connections:write) for Socket Mode.",
    )
    slack_signing_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"),
        description="Verifies requests to `offerbot serve` (bad or stale signature, missing or "
        "non-numeric `X-Slack-Request-Timestamp` → 401).",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description="Slack Web API base URL; tests point it at a local server.",
    )
    hr_admins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Slack user ids allowed to use /offer-admin (comma-separated)."
    )
    # Slack's largest payload is a message event: text truncated at 40,000 characters, carried
    # twice (``text`` and the ``rich_text`` blocks), at most 4 bytes a character: 320 KB; view
    # submissions (100 blocks, 3,000-character inputs) stay below that. 512 KiB leaves room and
    # is half aiohttp's default, so a hostile body is refused before it is read or parsed.
    slack_max_body_bytes: int = Field(
        512 * 1024,
        ge=64 * 1024,
        le=16 * 1024 * 1024,
        description="Largest request body `offerbot serve` accepts at /slack/events (512 KiB; "
        "64 KiB – 16 MiB); a larger one is answered 413 before it is read.",
    )

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("OFFERBOT_SLACK_API_URL must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("hr_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    # --- end of Slack settings -------------------------------------------------------------------

    # --- scheduler, reminders, extensions (issue 7) ------------------------------------------

    # reminders
    reminders_enabled: bool = Field(
        True,
        description="Plan and send deadline reminders; false: none is planned or sent "
        "(pending rounds are cancelled at the next planning).",
    )
    reminder_business_days: Annotated[tuple[int, ...], NoDecode] = Field(
        (10, 5, 2, 1),
        description="Remind N business days before the expiration date (comma-separated), "
        "and on the expiration day itself.",
    )
    reminder_time: time = Field(
        time(9, 0),
        description="Local time of each reminder round, in the offer's deadline zone (Pacific).",
    )
    quiet_hours: Annotated[tuple[time, time] | None, NoDecode] = Field(
        (time(20, 0), time(8, 0)),
        description="HH:MM-HH:MM in the deadline zone when no reminder goes out (may wrap "
        "midnight); empty turns quiet hours off.",
    )

    @field_validator("reminder_business_days", mode="before")
    @classmethod
    def _reminder_days(cls, value: object) -> object:
        from bot.domain.reminders import parse_business_days

        return parse_business_days(value) if isinstance(value, str) else value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet_hours(cls, value: object) -> object:
        from bot.domain.reminders import parse_quiet_hours

        return parse_quiet_hours(value) if isinstance(value, str) else value

    # extensions and amendments
    two_person_rule: bool = Field(
        False,
        description="true: an extension's or amendment's announcement waits for a second HR "
        "person's approval (`hr approve`); the new expiration still applies at once.",
    )

    # receipt SLA and HR digest
    receipt_sla_alert_hours: float = Field(
        15.0,
        ge=0,
        le=240,
        description="Alert HR this many hours (0–240) before a receipt confirmation's deadline "
        "if it is not sent yet (15: 9:00 a.m. Eastern on the SLA's last business day).",
    )
    digests_enabled: bool = Field(True, description="Send HR a digest each business day.")
    digest_time: str = Field(
        "08:00", description="HH:MM, in the offer's deadline zone (Pacific), of the HR digest."
    )

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        try:
            return datetime.strptime(value.strip(), "%H:%M").strftime("%H:%M")
        except ValueError:
            raise ValueError("OFFERBOT_DIGEST_TIME must be HH:MM, e.g. 08:00") from None

    # broadcast delivery
    slack_rate_per_second: float = Field(
        8.0,
        gt=0,
        le=100,
        description="Outbound Slack API calls per second, for all senders together (one pace; "
        "a 429's Retry-After pauses every sender).",
    )
    announcement_channel: str | None = Field(
        None,
        description="Slack channel id (C…) that also gets one post per offer announcement; "
        "unset: DMs only.",
    )

    @field_validator("announcement_channel", mode="before")
    @classmethod
    def _channel_id(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or value.strip()[:1] not in ("C", "G"):
            raise ValueError("OFFERBOT_ANNOUNCEMENT_CHANNEL must be a Slack channel id (C…)")
        return value.strip()

    # --- end of scheduler settings ----------------------------------------------------------------

    # --- operations: logs, metrics (issue 8) ---------------------------------------------------
    log_format: str = Field(
        "text",
        description="`text` (`TIME LEVEL logger: message key=value …`) or `json` (one object "
        "per line: `time`, `level`, `logger`, `message`, then the record's extra fields).",
    )
    log_level: str = Field(
        "INFO",
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL (DEBUG only for offerbot's own "
        "packages, see docs/operations.md).",
    )
    log_library_level: str = Field(
        "WARNING",
        description="Lowest level logged from libraries (Slack, aiohttp, SMTP, IMAP, SQLAlchemy, "
        "Alembic, every logger outside offerbot's own packages): lower it only to debug a test "
        "setup — libraries log message contents below WARNING (request bodies are withheld "
        "even then).",
    )

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("text", "json"):
            raise ValueError("OFFERBOT_LOG_FORMAT must be text or json")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("OFFERBOT_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @field_validator("log_library_level")
    @classmethod
    def _log_library_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(
                "OFFERBOT_LOG_LIBRARY_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"
            )
        return value

    # replicas: several `offerbot worker`/`run`/`serve` processes on one PostgreSQL database
    worker_interval: float = Field(
        15.0,
        gt=0,
        description="Seconds between outbox passes; the scheduler looks for due jobs every "
        "twice this.",
    )
    outbox_lease_seconds: float = Field(
        600.0,
        ge=1,
        description="How long a claimed outbox row or job stays with its replica; a crashed "
        "replica's work is taken again after it. Keep it well above one claim batch's send time.",
    )
    imap_lock_retry_seconds: float = Field(
        30.0,
        gt=0,
        description="How often a replica that is not reading the mailbox tries to take over; "
        "also how often the reader checks that it still holds the lock.",
    )

    # --- end of operations settings ---------------------------------------------------------------

    # --- HR web console (issue 16) ---------------------------------------------------------------
    hr_console_secure_cookie: bool = Field(
        True,
        description="The console's session cookie is `Secure` (sent over HTTPS only). `false` "
        "is accepted only when `offerbot serve --host` is a loopback address (local trials).",
    )
    hr_console_idle_minutes: int = Field(
        30,
        ge=1,
        le=24 * 60,
        description="Minutes without a request after which a console session ends (1–1440).",
    )
    hr_console_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed console sign-ins per account within 15 minutes before that account's "
        "sign-ins are refused until the window passes (1–100); an address may fail four times "
        "as often, over all accounts.",
    )
    hr_console_max_upload_mb: int = Field(
        10,
        ge=1,
        le=50,
        description="Largest scanned signed form (PDF) the console accepts with a receipt, in "
        "MiB (1–50); a larger file is refused and the rest of the form kept.",
    )
    # --- end of HR web console settings ----------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _split_anchor(cls, data: object) -> object:
        """``OFFERBOT_NOW=2003-07-10T09:00:00-07:00@2026-11-23T23:50:00+00:00``: the simulated
        instant and the real instant it stood there; processes given the same value share one
        simulated time (`init --demo` writes it this way)."""
        if isinstance(data, dict):
            now = data.get("now")
            if isinstance(now, str) and "@" in now:
                simulated, _, anchor = now.partition("@")
                data = {**data, "now": simulated, "offerbot_internal_now_anchor": anchor}
        return data

    @field_validator("now", "now_anchor", mode="before")
    @classmethod
    def _aware_now(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            return parse_instant(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("OFFERBOT_NOW needs a UTC offset, e.g. 2003-07-10T09:00:00-07:00")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("sqlite:///") or value.startswith("sqlite://"):
            value = value.replace("sqlite://", "sqlite+aiosqlite://", 1)
        elif value.startswith(("postgresql://", "postgres://")):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "OFFERBOT_DATABASE_URL must be sqlite+aiosqlite:///PATH or "
                "postgresql+asyncpg://USER@HOST:PORT/DB"
            )
        return value


def simulated_clock_from_file(settings: Settings) -> bool:
    """Whether ``settings`` run on a simulated clock that came from :data:`LOCAL_ENV_FILE` (the
    file `offerbot init --demo` writes) rather than from ``OFFERBOT_NOW`` in the environment —
    a demo clock left behind in a folder that now runs a real deployment."""
    if settings.now is None:
        return False
    if any(name.upper() == "OFFERBOT_NOW" for name in os.environ):
        return False
    try:
        lines = LOCAL_ENV_FILE.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    for line in reversed(lines):
        name, _, value = line.partition("=")
        if name.strip().upper() != "OFFERBOT_NOW":
            continue
        simulated = value.strip().strip("\"'").partition("@")[0]
        try:
            return parse_instant(simulated) == settings.now
        except ValueError:
            return False
    return False
