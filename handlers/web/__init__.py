"""The HR web console under ``/hr/`` (issue 16), served by the same aiohttp application as
``/slack/events``, ``/healthz`` and ``/metrics`` in ``offerbot serve``.

Server-rendered Jinja2 pages and plain HTML forms: no JavaScript, nothing loaded from another
origin; the one stylesheet ships in this package. See docs/hr-console.md.
"""

from __future__ import annotations

from handlers.web.routes import add_console_routes

__all__ = ["add_console_routes"]
