"""Who may use the HR web console, and how a browser proves it is them.

* Accounts: an e-mail (lower-cased), a role (``admin`` acts, ``viewer`` only sees) and an
  argon2id hash of the password (argon2-cffi's defaults, rehashed on sign-in when they change).
* Sessions: a random token in the cookie; the database keeps only its SHA-256, the per-session
  CSRF token and when the browser was last seen. Sessions live in the database so every replica
  knows them; one idle longer than ``Settings.hr_console_idle_minutes`` is ended on its next
  request (the clock is injected, so tests move time instead of waiting).
* Sign-in attempts are rows too: more than ``max_failures`` failures for one account within
  :data:`FAILURE_WINDOW`, or four times that from one address over all accounts, and further
  attempts are refused — even with the right password — until the window has passed.

Every change and every sign-in is written to the audit log with the HR person's identity.
Errors: :class:`SignInRefusedError` (a :class:`~bot.services.errors.NotAuthorizedError`) carries
the sentence the sign-in page shows; it never says whether the account exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.domain.records import AuditEntry
from bot.ports import UnitOfWork
from bot.services.errors import InvalidRequestError, NotAuthorizedError
from bot.services.identity import Identity
from storage.hr_console_repo import HrAccount, HrSession, hr_console

__all__ = [
    "CHANNEL",
    "FAILURE_WINDOW",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "ConsoleUser",
    "LiveSession",
    "NewSession",
    "SignInRefusedError",
    "add_account",
    "csrf_matches",
    "list_accounts",
    "normalize_email",
    "record_refusal",
    "remove_account",
    "session_user",
    "sign_in",
    "sign_out",
]

CHANNEL = "web-hr"  # an operator channel (bot.services.access.OPERATOR_CHANNELS)
ROLES = ("admin", "viewer")
MIN_PASSWORD_LENGTH = 12
FAILURE_WINDOW = timedelta(minutes=15)
ADDRESS_FACTOR = 4  # an address (an office NAT) may fail this many times an account's limit
_TOUCH_EVERY = timedelta(seconds=60)  # last_seen is rewritten at most once a minute
_HASHER = PasswordHasher()
# Verified when the account does not exist, so both answers take as long. Made on first use,
# not at import: one hash at argon2's default cost is 0.2-0.6 s of CPU, and every process that
# imports this module (serve, worker, each test worker) paid it whether or not anyone signed in.
_DUMMY_HASH: str | None = None
_REFUSED = "That e-mail and password do not match an HR account."


class SignInRefusedError(NotAuthorizedError):
    """Wrong e-mail or password, or too many failed attempts: the sentence to show."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def identity(self) -> Identity:
        """How the services and the audit log know this person."""
        return Identity(channel=CHANNEL, actor=f"web:{self.email}")


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # goes into the cookie; never stored
    csrf_token: str
    user: ConsoleUser


@dataclass(frozen=True, slots=True)
class LiveSession:
    user: ConsoleUser
    csrf_token: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(
    action: str,
    actor: str,
    now: datetime,
    subject: str | None,
    *,
    channel: str = CHANNEL,
    **detail: Any,
) -> AuditEntry:
    return AuditEntry(
        at=now, actor=actor, action=action, channel=channel, subject=subject, detail=detail
    )


async def add_account(
    *, uow: UnitOfWork, email: str, role: str, password: str, actor: Identity, now: datetime
) -> bool:
    """Create the account, or replace its role and password; True when it is new."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidRequestError(f"{email!r} is not an e-mail address.")
    if role not in ROLES:
        raise InvalidRequestError("The role is admin or viewer.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    account = HrAccount(
        email=email,
        role=role,
        password_hash=_HASHER.hash(password),
        created_at=now,
        created_by=actor.actor,
    )
    async with uow:
        repo = hr_console(uow)
        new = await repo.save_account(account)
        # a new password (or role) signs the account out everywhere
        ended = 0 if new else await repo.end_sessions_of(email)
        await uow.audit.record(
            _audit(
                "hr_console.account.save", actor.actor, now, None, channel=actor.channel,
                email=email, role=role, sessions_ended=ended,
            )
        )  # fmt: skip
        await uow.commit()
    return new


async def list_accounts(*, uow: UnitOfWork) -> list[HrAccount]:
    async with uow:
        return await hr_console(uow).accounts()


async def remove_account(*, uow: UnitOfWork, email: str, actor: Identity, now: datetime) -> bool:
    """Delete the account and end its sessions; False when there was no such account."""
    email = normalize_email(email)
    async with uow:
        removed = await hr_console(uow).remove_account(email)
        if removed:
            await uow.audit.record(
                _audit(
                    "hr_console.account.remove", actor.actor, now, None, channel=actor.channel,
                    email=email,
                )
            )  # fmt: skip
        await uow.commit()
    return removed


async def sign_in(
    *, uow: UnitOfWork, email: str, password: str, address: str, now: datetime, max_failures: int
) -> NewSession:
    """Check the password (within the rate limits) and open a session."""
    email = normalize_email(email)[:254]
    since = now - FAILURE_WINDOW
    async with uow:
        repo = hr_console(uow)
        limited = (
            await repo.failures_since(since, email=email) >= max_failures
            or await repo.failures_since(since, address=address) >= max_failures * ADDRESS_FACTOR
        )
        if limited:
            await uow.audit.record(
                _audit("hr_console.sign_in", f"web:{email}", now, None, outcome="rate_limited")
            )
            await uow.commit()
            minutes = int(FAILURE_WINDOW.total_seconds() // 60)
            raise SignInRefusedError(
                f"Too many failed sign-ins. Try again in {minutes} minutes, or ask another "
                "HR admin to reset your password."
            )
        account = await repo.account(email)
        ok = _verify(account.password_hash if account else _dummy_hash(), password)
        await repo.record_attempt(
            at=now, email=email, address=address, succeeded=ok and account is not None
        )
        if account is None or not ok:
            await uow.audit.record(
                _audit("hr_console.sign_in", f"web:{email}", now, None, outcome="refused")
            )
            await uow.commit()
            raise SignInRefusedError(_REFUSED)
        if _HASHER.check_needs_rehash(account.password_hash):
            await repo.save_account(
                HrAccount(
                    email=account.email,
                    role=account.role,
                    password_hash=_HASHER.hash(password),
                    created_at=account.created_at,
                    created_by=account.created_by,
                )
            )
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await repo.add_session(
            HrSession(
                token_hash=_token_hash(token),
                email=email,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
            ),
            address=address,
        )
        await uow.audit.record(
            _audit("hr_console.sign_in", f"web:{email}", now, None, outcome="signed_in")
        )
        await uow.commit()
    return NewSession(token=token, csrf_token=csrf, user=ConsoleUser(email, account.role))


def _dummy_hash() -> str:
    """The hash an unknown e-mail's password is checked against, made with ``_HASHER``'s own
    parameters so the check costs what a real one does."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash("not a password of anyone")
    return _DUMMY_HASH


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def session_user(
    *, uow: UnitOfWork, token: str, now: datetime, idle: timedelta
) -> LiveSession | None:
    """The signed-in person behind ``token``, or None (unknown, idle too long, account gone).
    An idle session is deleted; a live one is marked seen now."""
    if not token:
        return None
    token_hash = _token_hash(token)
    async with uow:
        repo = hr_console(uow)
        found = await repo.get_session(token_hash)
        if found is None:
            return None
        account = await repo.account(found.email)
        if account is None or now - found.last_seen_at > idle:
            await repo.end_session(token_hash)
            await uow.audit.record(
                _audit(
                    "hr_console.sign_out",
                    f"web:{found.email}",
                    now,
                    None,
                    reason="idle" if account else "account_removed",
                )
            )
            await uow.commit()
            return None
        if now - found.last_seen_at >= _TOUCH_EVERY:
            await repo.touch_session(token_hash, at=now)
            await uow.commit()
    return LiveSession(user=ConsoleUser(account.email, account.role), csrf_token=found.csrf_token)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the form's."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


async def sign_out(*, uow: UnitOfWork, token: str, user: ConsoleUser, now: datetime) -> None:
    async with uow:
        await hr_console(uow).end_session(_token_hash(token))
        await uow.audit.record(
            _audit("hr_console.sign_out", user.identity.actor, now, None, reason="signed_out")
        )
        await uow.commit()


async def record_refusal(*, uow: UnitOfWork, user: ConsoleUser, path: str, now: datetime) -> None:
    """A viewer tried to act: refused, and written down with who it was."""
    async with uow:
        await uow.audit.record(
            _audit(
                "hr_console.refused",
                user.identity.actor,
                now,
                None,
                path=path[:200],
                role=user.role,
            )
        )
        await uow.commit()
