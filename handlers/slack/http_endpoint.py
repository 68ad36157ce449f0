"""``POST /slack/events`` for `offerbot serve`: the checks that come before Bolt sees a request.

Bolt's own aiohttp server reads any body up to aiohttp's 1 MiB default, parses it, and lets a
non-numeric ``X-Slack-Request-Timestamp`` raise (a 500). Here, in this order and without
reading more than needed:

1. a ``Content-Length`` over ``max_body_bytes`` → 413 before a byte of the body is read;
2. an ``X-Slack-Request-Timestamp`` that is missing or not plain digits → 401 (the answer Bolt
   gives any request it cannot verify);
3. the body is read with aiohttp's limit set to ``max_body_bytes`` (a chunked body over it → 413
   as soon as it passes the limit), decoded as UTF-8 (a byte that is not cannot be part of a
   valid signature: 401), then dispatched to Bolt, which checks the signature.

No request body is logged here, whatever the outcome.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

__all__ = ["slack_web_app"]

logger = logging.getLogger(__name__)

# Unix seconds, as Slack sends them; ASCII digits only (``int()`` would take "١٢" or " 12 ").
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _too_large(limit: int) -> web.Response:
    return web.json_response(
        {"error": "request body too large", "max_bytes": limit},
        status=web.HTTPRequestEntityTooLarge.status_code,
    )


def _unverifiable() -> web.Response:
    return web.json_response({"error": "invalid request"}, status=web.HTTPUnauthorized.status_code)


def slack_web_app(
    bolt: AsyncApp, *, max_body_bytes: int, path: str = "/slack/events"
) -> web.Application:
    """An aiohttp application answering Slack at ``path`` through ``bolt``; add other routes
    (``/healthz``, ``/metrics``) to it before it starts."""

    async def slack_events(request: web.Request) -> web.Response:
        """Refuse what is too large or cannot be verified; hand the rest to Bolt."""
        if request.content_length is not None and request.content_length > max_body_bytes:
            logger.warning("slack: %d-byte request refused (413)", request.content_length)
            return _too_large(max_body_bytes)
        if not _TIMESTAMP.fullmatch(request.headers.get("X-Slack-Request-Timestamp", "")):
            logger.info("slack: request without a numeric timestamp refused (401)")
            return _unverifiable()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            logger.warning("slack: request over %d bytes refused (413)", max_body_bytes)
            return _too_large(max_body_bytes)
        bolt_request = AsyncBoltRequest(
            # Slack sends UTF-8; anything else cannot carry a valid signature once replaced
            body=raw.decode("utf-8", errors="replace"),
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # Bolt reads it as a mapping
        )
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    # aiohttp refuses a body that passes client_max_size while reading it (read() raises 413)
    web_app = web.Application(client_max_size=max_body_bytes)
    web_app.router.add_post(path, slack_events)
    return web_app
