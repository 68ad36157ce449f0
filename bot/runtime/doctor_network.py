"""The network checks of `offerbot doctor`: SMTP, IMAP and Slack, each bounded by a timeout.

They connect the way the running bot does (the same settings, TLS modes and CA bundles as
:mod:`handlers.email.smtp`, :mod:`handlers.email.imap` and :mod:`handlers.slack.app`) and stop
before doing anything: no mail is sent, nothing in the mailbox is changed, no Slack message is
posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl

import aioimaplib
import aiosmtplib

from bot.config import Settings
from bot.runtime.doctor_results import CheckResult, Status

__all__ = ["BOT_SCOPES", "check_imap", "check_slack", "check_smtp"]

# The bot scopes of deploy/slack-app-manifest.yaml (tests/ops keep the two lists equal; the
# manifest is not installed with the package, so the list lives here).
BOT_SCOPES = frozenset(
    {
        "app_mentions:read",
        "chat:write",
        "commands",
        "files:write",
        "im:history",
        "im:read",
        "im:write",
        "users:read",
        "users:read.email",
    }
)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _tls_hint(exc: BaseException, ca_variable: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY" in str(exc):
        return f"the server's certificate is not trusted: set {ca_variable} to its CA bundle"
    return ""


# --- SMTP ------------------------------------------------------------------------------------


async def check_smtp(settings: Settings, *, timeout: float) -> CheckResult:
    """Connect, EHLO, STARTTLS or implicit TLS and AUTH as configured; QUIT without mail."""
    s = settings
    if not s.smtp_host:
        return CheckResult("SMTP", Status.SKIP, "OFFERBOT_SMTP_HOST not set: e-mail is not sent")
    where = f"{s.smtp_host}:{s.smtp_port}"
    client = aiosmtplib.SMTP(
        hostname=s.smtp_host,
        port=s.smtp_port,
        local_hostname=s.mail_hostname,
        use_tls=s.smtp_tls == "implicit",
        start_tls=s.smtp_tls == "starttls",
        tls_context=ssl.create_default_context(cafile=s.smtp_ca_file)
        if s.smtp_tls != "false"
        else None,
        timeout=timeout,
    )
    done = []
    try:
        async with asyncio.timeout(timeout):
            await client.connect()
            if client.is_ehlo_or_helo_needed:  # after STARTTLS the EHLO is sent again
                await client.ehlo()
            ehlo = client.last_ehlo_response
            greeting = ehlo.message.splitlines()[0] if ehlo and ehlo.message else "?"
            done.append(f"EHLO ok ({greeting})")
            if s.smtp_tls == "starttls":
                done.append("STARTTLS ok")
            elif s.smtp_tls == "implicit":
                done.append("implicit TLS ok")
            if s.smtp_user:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                await client.login(s.smtp_user, password)
                done.append(f"AUTH ok as {s.smtp_user}")
            elif client.supports_extension("auth"):
                done.append("server offers AUTH, none configured")
    except aiosmtplib.SMTPAuthenticationError as exc:
        return CheckResult(
            "SMTP",
            Status.FAIL,
            f"{where}: login refused ({exc.code} {exc.message})",
            "check OFFERBOT_SMTP_USER and OFFERBOT_SMTP_PASSWORD",
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        steps = f" after {', '.join(done)}" if done else ""
        hint = _tls_hint(exc, "OFFERBOT_SMTP_CA_FILE") or (
            "is the server running, and are OFFERBOT_SMTP_HOST/PORT/TLS right? "
            "(587 starttls, 465 implicit)"
        )
        return CheckResult("SMTP", Status.FAIL, f"{where}: {_reason(exc)}{steps}", hint)
    finally:
        await _quit(client, timeout)
    return CheckResult("SMTP", Status.PASS, f"{where}: {', '.join(done)}; no mail sent")


async def _quit(client: aiosmtplib.SMTP, timeout: float) -> None:
    if not client.is_connected:
        return
    try:
        async with asyncio.timeout(timeout):
            await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


# --- IMAP ------------------------------------------------------------------------------------


async def check_imap(settings: Settings, *, timeout: float) -> CheckResult:
    """Connect (TLS as configured), LOGIN, EXAMINE (a read-only SELECT) the mailbox, LOGOUT."""
    s = settings
    if not s.imap_host:
        return CheckResult("IMAP", Status.SKIP, "OFFERBOT_IMAP_HOST not set: the inbox is not read")
    where = f"{s.imap_user or '?'}@{s.imap_host}:{s.imap_port}"
    if not s.imap_user:
        return CheckResult("IMAP", Status.FAIL, f"{where}: no user", "set OFFERBOT_IMAP_USER")
    client = aioimaplib.IMAP4(
        host=s.imap_host,
        port=s.imap_port,
        timeout=timeout,
        # IMAP4 with an ssl_context is implicit TLS, as in handlers/email/imap.py
        ssl_context=ssl.create_default_context(cafile=s.imap_ca_file) if s.imap_tls else None,
    )
    try:
        async with asyncio.timeout(timeout):
            await client.wait_hello_from_server()
            password = s.imap_password.get_secret_value() if s.imap_password else ""
            login = await client.login(s.imap_user, password)
            if login.result != "OK":
                return CheckResult(
                    "IMAP",
                    Status.FAIL,
                    f"{where}: login refused ({_text(login.lines)})",
                    "check OFFERBOT_IMAP_USER and OFFERBOT_IMAP_PASSWORD",
                )
            selected = await client.examine(s.imap_mailbox)
            if selected.result != "OK":
                return CheckResult(
                    "IMAP",
                    Status.FAIL,
                    f"{where}: cannot select {s.imap_mailbox} ({_text(selected.lines)})",
                    "check OFFERBOT_IMAP_MAILBOX (the folder questions arrive in)",
                )
            idle = client.has_capability("IDLE")
    except (aioimaplib.Abort, aioimaplib.Error, OSError, TimeoutError) as exc:
        hint = _tls_hint(exc, "OFFERBOT_IMAP_CA_FILE") or (
            "is the server running, and are OFFERBOT_IMAP_HOST/PORT/TLS right? "
            "(993 is implicit TLS)"
        )
        return CheckResult("IMAP", Status.FAIL, f"{where}: {_reason(exc)}", hint)
    finally:
        await _logout(client)
    detail = f"{where}: login ok, {s.imap_mailbox} selected ({_exists(selected.lines)} messages)"
    if s.imap_idle and not idle:
        return CheckResult(
            "IMAP",
            Status.WARN,
            f"{detail}; the server does not offer IDLE",
            "set OFFERBOT_IMAP_IDLE=false (poll every OFFERBOT_IMAP_POLL_SECONDS)",
        )
    return CheckResult("IMAP", Status.PASS, detail)


def _text(lines: list[bytes] | list[bytearray]) -> str:
    return " ".join(bytes(line).decode(errors="replace") for line in lines).strip()[:200]


def _exists(lines: list[bytes] | list[bytearray]) -> str:
    for line in lines:
        parts = bytes(line).split()
        if len(parts) == 2 and parts[1].upper() == b"EXISTS":
            return parts[0].decode()
    return "?"


async def _logout(client: aioimaplib.IMAP4) -> None:
    """LOGOUT politely if the session is up; then close the socket whatever happened
    (aioimaplib can hang on a TLS mismatch, so never wait on it for long)."""
    with contextlib.suppress(aioimaplib.Abort, aioimaplib.Error, OSError, TimeoutError):
        if client.get_state() in ("AUTH", "SELECTED"):
            async with asyncio.timeout(2):
                await client.logout()
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()
    for task in list(getattr(client, "tasks", ())):
        task.cancel()


# --- Slack -----------------------------------------------------------------------------------


async def check_slack(settings: Settings, *, timeout: float) -> CheckResult:
    """``auth.test`` with the bot token; the granted scopes against the manifest's."""
    from aiohttp import ClientError
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    s = settings
    if s.slack_bot_token is None:
        return CheckResult("Slack", Status.SKIP, "SLACK_BOT_TOKEN not set: Slack is off")
    client = AsyncWebClient(
        token=s.slack_bot_token.get_secret_value(),
        base_url=s.slack_api_url,
        timeout=max(1, math.ceil(timeout)),
    )
    try:
        async with asyncio.timeout(timeout):
            response = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response is not None else "error"
        return CheckResult(
            "Slack",
            Status.FAIL,
            f"auth.test at {s.slack_api_url}: {error}",
            "check SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-…, of the installed app)",
        )
    except (ClientError, OSError, TimeoutError) as exc:
        return CheckResult(
            "Slack",
            Status.FAIL,
            f"cannot reach {s.slack_api_url}: {_reason(exc)}",
            "check network access to Slack and OFFERBOT_SLACK_API_URL",
        )
    team, bot_user = response.get("team"), response.get("user_id")
    who = f"team {team} ({response.get('team_id')}), bot user {bot_user}"
    header = next((v for k, v in response.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        return CheckResult(
            "Slack",
            Status.WARN,
            f"{who}; Slack did not report the granted scopes (no x-oauth-scopes header)",
            "compare the app's scopes with deploy/slack-app-manifest.yaml by hand",
        )
    granted = {scope.strip() for scope in str(header).split(",") if scope.strip()}
    missing = sorted(BOT_SCOPES - granted)
    if missing:
        return CheckResult(
            "Slack",
            Status.FAIL,
            f"{who}; missing bot scopes: {', '.join(missing)}",
            "add them under OAuth & Permissions (as in deploy/slack-app-manifest.yaml) and "
            "reinstall the app to the workspace",
        )
    extra = sorted(granted - BOT_SCOPES)
    more = f" (also granted: {', '.join(extra)})" if extra else ""
    return CheckResult("Slack", Status.PASS, f"{who}; all {len(BOT_SCOPES)} bot scopes{more}")
