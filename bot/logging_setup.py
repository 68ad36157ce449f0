"""Logging for every offerbot process: one handler on the root logger, text or JSON lines.

What a record may carry: ids (employee id, outbox key, Slack event id, IMAP uid, intent
version) and short hashes from :func:`fingerprint`. What it must never carry: grant details
(grant numbers, prices, share counts), question texts, e-mail bodies or subjects, e-mail
addresses or names. Call sites follow that rule; :class:`RedactingFilter` on the handler is the
safety net that replaces any e-mail address still slipping into a message, an argument, an
extra field or a traceback by ``<email:HASH>``.

``OFFERBOT_LOG_LEVEL=DEBUG`` opens DEBUG for offerbot's own packages only: libraries log
payloads there (SQL parameters, IMAP and SMTP dialogue, Slack request bodies). Those that do so
even at INFO, and Alembic's progress lines, are held at WARNING.

The CLI calls :func:`configure_from_settings` once at start (``bot.cli``); tests call
:func:`configure_logging` with their own stream.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from bot.config import Settings

__all__ = [
    "OWN_PACKAGES",
    "QUIET_LOGGERS",
    "RedactingFilter",
    "configure_from_settings",
    "configure_logging",
    "fingerprint",
    "redact",
]

# Loggers that log message contents at DEBUG/INFO (IMAP/SMTP dialogue, Slack payloads, every
# HTTP request line), and Alembic's step-by-step chatter on every command that migrates; only
# their warnings and errors reach our handler.
QUIET_LOGGERS = ("aioimaplib", "aiosmtplib", "slack_bolt", "slack_sdk", "aiohttp.access", "alembic")

# The packages whose records follow OFFERBOT_LOG_LEVEL down to DEBUG.
OWN_PACKAGES = ("bot", "handlers", "storage", "knowledge")

# Deliberately broad: a Message-ID (<x@host.example>) is redacted too — the outbox key
# identifies a message in logs instead.
_EMAIL_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)


def fingerprint(text: str) -> str:
    """A short, stable hash (12 hex digits of SHA-256) to correlate records without the text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def redact(text: str) -> str:
    """``text`` with every e-mail address replaced by ``<email:HASH>`` (hash of the lower case)."""
    return _EMAIL_ADDRESS.sub(lambda m: f"<email:{fingerprint(m.group(0).lower())}>", text)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


class RedactingFilter(logging.Filter):
    """Replace e-mail addresses in the message, its arguments, extra fields and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _iso_time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class _TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message key=value …`` (the extra fields, sorted)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extras = sorted(_extras(record).items())
        return line + "".join(f" {key}={value}" for key, value in extras)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _JsonLinesFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso_time(record)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _OfferbotHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler offerbot installs (found again and replaced on reconfiguration)."""


def configure_logging(
    *, level: str = "INFO", fmt: str = "text", stream: IO[str] | None = None
) -> logging.Handler:
    """Install (or replace) offerbot's handler on the root logger; returns it.

    Handlers others installed (pytest's capture, for one) are left alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OfferbotHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _OfferbotHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_JsonLinesFormatter() if fmt == "json" else _TextFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    wanted = logging.getLevelName(level.upper())
    # DEBUG is for our own code: libraries' debug output is where payloads get dumped
    # (aiosqlite logs every statement with its parameters), so the root stays at INFO or above.
    root.setLevel(max(wanted, logging.INFO))
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(wanted)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(wanted, logging.WARNING))
    return handler


def configure_from_settings(settings: Settings | None = None) -> logging.Handler:
    """Configure from ``OFFERBOT_LOG_FORMAT`` / ``OFFERBOT_LOG_LEVEL``.

    Settings that do not validate leave the defaults: the command itself reports them.
    """
    if settings is None:
        try:
            settings = Settings()
        except ValueError:  # pydantic's ValidationError is a ValueError
            return configure_logging()
    return configure_logging(level=settings.log_level, fmt=settings.log_format)
