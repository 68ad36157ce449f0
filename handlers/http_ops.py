"""``GET /healthz`` and ``GET /metrics`` next to ``/slack/events`` in ``offerbot serve``.

``/healthz``: 200 ``{"status": "ok", "database": "ok", "migration": REV}`` after a
``SELECT 1``; 503 with a ``reason`` when the database is down or not migrated (load balancers
and Kubernetes probes read the status code). ``/metrics``: the Prometheus exposition of
:mod:`bot.services.metrics` (text format, or OpenMetrics when the scraper asks for it); 503
when the database cannot be read, so the scrape shows as failed instead of as zeros.

Both are unauthenticated and carry counts only; restrict them at the proxy if the port is
public.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from sqlalchemy.exc import SQLAlchemyError

from bot.services.health import check_health
from bot.services.metrics import collect_metrics, metrics_registry

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["add_ops_routes"]

logger = logging.getLogger(__name__)


def add_ops_routes(web_app: web.Application, app: App) -> None:
    """Add ``GET /healthz`` and ``GET /metrics`` to ``web_app`` (before it starts)."""

    async def healthz(_request: web.Request) -> web.Response:
        """The database answers and is migrated: 200; otherwise 503 with the reason."""
        health = await check_health(uow=app.uow(), engine=app.engine)
        return web.json_response(health.as_json(), status=200 if health.ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        """Prometheus exposition of the counters (content negotiated on Accept)."""
        try:
            snapshot = await collect_metrics(uow=app.uow(), clock=app.clock)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("metrics: database unreachable (%s)", type(exc).__name__)
            return web.Response(status=503, text="database unreachable\n")
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(
            body=encode(metrics_registry(snapshot)), headers={"Content-Type": content_type}
        )

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
