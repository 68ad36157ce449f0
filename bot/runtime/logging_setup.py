"""Logging for every offerbot process: one handler on the root logger, text or JSON lines.

What a record may carry: ids (employee id, outbox key, Slack event id, IMAP uid, intent
version) and short hashes from :func:`fingerprint`. What it must never carry: grant details
(grant numbers, prices, share counts), question texts, e-mail bodies or subjects, e-mail
addresses or names. Call sites follow that rule; :class:`RedactingFilter` on the handler is the
safety net that replaces any e-mail address still slipping into a message, an argument, an
extra field or a traceback by ``<email:HASH>``.

``OFFERBOT_LOG_LEVEL=DEBUG`` opens DEBUG for offerbot's own packages only: libraries log
payloads below WARNING (SQL parameters, IMAP and SMTP dialogue, Slack request bodies — Bolt
logs a bad-signature request's whole body at INFO), so every record from outside
:data:`OWN_PACKAGES` below ``OFFERBOT_LOG_LIBRARY_LEVEL`` (WARNING unless explicitly lowered)
is dropped at the handler. That holds for loggers that set their own level too: Bolt copies the
root logger's level onto each of its loggers when it builds them. Library records that do pass
go through the same :class:`RedactingFilter`, which also withholds whatever follows a
``body:``/``payload:``-style marker in them: request bodies are never logged.

Every redaction runs in time linear in the text (log lines may carry hostile input).

The CLI calls :func:`configure_from_settings` once at start (``bot.cli``); tests call
:func:`configure_logging` with their own stream.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any

from bot.config import Settings

__all__ = [
    "OWN_PACKAGES",
    "QUIET_LOGGERS",
    "LibraryLevelFilter",
    "RedactingFilter",
    "configure_from_settings",
    "configure_logging",
    "fingerprint",
    "redact",
]

# Libraries that log message contents at DEBUG/INFO (IMAP/SMTP dialogue, Slack payloads, SQL
# parameters, every HTTP request line), and Alembic's step-by-step chatter on every command that
# migrates: set to the library level (WARNING by default). Any other logger outside
# OWN_PACKAGES is held to the same level by the handler's filter.
QUIET_LOGGERS = (
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "aiosmtplib",
    "aioimaplib",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
)

# The packages whose records follow OFFERBOT_LOG_LEVEL down to DEBUG.
OWN_PACKAGES = ("bot", "handlers", "storage", "knowledge")

# An e-mail address is LOCAL@DOMAIN: LOCAL a run of these characters, DOMAIN dot-separated
# labels. Deliberately broad: a Message-ID (<x@host.example>) is redacted too — the outbox key
# identifies a message in logs instead.
_LOCAL_CHARS = r"[\w.!#$%&'*+/=?^`{|}~-]"
# The run of local-part characters right before an "@" that a domain follows. Linear time: the
# lookbehind starts a match only where a run starts, the possessive ``++`` never gives
# characters back, and the lookahead reads the first label (no "@" in it) once. (The naive
# ``LOCAL+@DOMAIN`` rescans the rest of a run from every position in it: quadratic, 19 s on
# 64 KB of "A" — one hostile request body froze the event loop.)
_LOCAL_BEFORE_AT = re.compile(
    rf"(?<!{_LOCAL_CHARS}){_LOCAL_CHARS}++(?=@[A-Za-z0-9-]++\.[A-Za-z0-9-])"
)
# Matched at the character after the "@"; its characters exclude "@", so each stretch between
# two "@" is read at most once from here.
_DOMAIN = re.compile(r"[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)++")

# In a library's record, what follows one of these is a payload ("… body: {…}", "json_body:
# {…}", "Unhandled request ({…})"): withheld. A literal then ``\s*``: linear.
_PAYLOAD_MARKER = re.compile(r"(?i)(?:body|payload|params|request)\s*[:=(]")

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
    """``text`` with every e-mail address replaced by ``<email:HASH>`` (hash of the lower case).

    Linear in ``len(text)`` whatever it holds (log lines may carry hostile input).
    """
    if "@" not in text:
        return text
    parts: list[str] = []
    done = 0  # text[:done] is in parts; the next address starts at or after it
    for local in _LOCAL_BEFORE_AT.finditer(text):
        start, at = max(local.start(), done), local.end()
        domain = _DOMAIN.match(text, at + 1)
        if start == at or domain is None:
            continue
        address = text[start : domain.end()]
        parts += (text[done:start], f"<email:{fingerprint(address.lower())}>")
        done = domain.end()
    return "".join(parts) + text[done:] if parts else text


def _is_own(logger_name: str) -> bool:
    return logger_name.split(".", 1)[0] in OWN_PACKAGES


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


class LibraryLevelFilter(logging.Filter):
    """Drop records below ``level`` from every logger outside :data:`OWN_PACKAGES`."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or _is_own(record.name)


class RedactingFilter(logging.Filter):
    """Replace e-mail addresses in the message, its arguments, extra fields and traceback;
    withhold payloads in libraries' messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        if not _is_own(record.name) and (marker := _PAYLOAD_MARKER.search(clean)):
            clean = clean[: marker.end()] + " <withheld>"
        clean = redact(clean)
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


@lru_cache(maxsize=1)
def _json_lines_formatter_class() -> type[logging.Formatter]:
    """The JSON-lines formatter's class, defined on first use: ``python-json-logger`` is
    imported only by a process that logs JSON (a fresh ``offerbot ask`` does not, and the import
    cost it ~4 ms)."""
    from pythonjsonlogger.json import JsonFormatter

    class JsonLinesFormatter(JsonFormatter):
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

    return JsonLinesFormatter


class _OfferbotHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler offerbot installs (found again and replaced on reconfiguration)."""


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "text",
    stream: IO[str] | None = None,
    library_level: str = "WARNING",
) -> logging.Handler:
    """Install (or replace) offerbot's handler on the root logger; returns it.

    ``library_level`` is the lowest level let through from loggers outside
    :data:`OWN_PACKAGES`; below WARNING only when asked for (it is never lowered by ``level``).
    Handlers others installed (pytest's capture, for one) are left alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OfferbotHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _OfferbotHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_json_lines_formatter_class()() if fmt == "json" else _TextFormatter())
    wanted = logging.getLevelName(level.upper())
    library = logging.getLevelName(library_level.upper())
    if library >= logging.WARNING:  # a quieter offerbot quiets the libraries too
        library = max(library, wanted)
    # the cap first: a dropped record costs no redaction
    handler.addFilter(LibraryLevelFilter(library))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    # DEBUG is for our own code: libraries' debug output is where payloads get dumped
    # (aiosqlite logs every statement with its parameters), so the root stays at INFO or above
    # unless the library level was explicitly lowered.
    root.setLevel(min(max(wanted, logging.INFO), library))
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(wanted)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(library)
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
    return configure_logging(
        level=settings.log_level,
        fmt=settings.log_format,
        library_level=settings.log_library_level,
    )
