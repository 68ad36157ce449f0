"""Jinja2 rendering for the console: one environment, autoescaped, with the time filters that
write every instant in the offer's zone with its abbreviation (PDT/PST)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.domain.timefmt import format_instant

__all__ = ["Renderer", "attachment_headers"]

# Pages hold personal data: never cached, never framed, nothing from other origins.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def attachment_headers(filename: str) -> dict[str, str]:
    """A download's headers: the pages' own (personal data: not cached, not framed), saved as
    ``filename``."""
    return {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}


def _duration(delta: timedelta) -> str:
    """``13 days 8 hours`` / ``2 hours 5 minutes``."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' * (days != 1)} {hours} hour{'s' * (hours != 1)}"
    return f"{hours} hour{'s' * (hours != 1)} {mins} minute{'s' * (mins != 1)}"


class Renderer:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.env = Environment(
            loader=PackageLoader("handlers.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = lambda t: format_instant(t, zone) if t else "—"
        self.env.filters["short"] = self._short
        self.env.filters["duration"] = _duration
        self.env.filters["n"] = lambda v: f"{v:,}"

    def _short(self, instant: datetime | None) -> str:
        """``2003-07-10 09:00 PDT``: tables, where the long form would not fit."""
        if instant is None:
            return "—"
        local = instant.astimezone(self.zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    def local_input(self, instant: datetime) -> str:
        """The value of a ``datetime-local`` input, in the offer's zone."""
        return instant.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def page(self, name: str, *, status: int = 200, **context: Any) -> web.Response:
        html = self.env.get_template(name).render(**context)
        return web.Response(
            text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS
        )
