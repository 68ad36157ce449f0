"""The console's communications log: what went out, when, to how many, and how delivery went,
with the downloads for the filing. Registered by :func:`handlers.web.routes.add_console_routes`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from bot.services.hr.communications_log import (
    KIND_LABELS,
    communications_csv,
    communications_page,
    delivery_log_csv,
)
from handlers.web.guard import Guard, Visit
from handlers.web.render import Renderer, attachment_headers

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["add_communications_routes"]

PAGE_SIZE = 50
_GROUP = re.compile(r"comm:\d{1,12}|[a-z_]{1,32}")


def add_communications_routes(
    web_app: web.Application, app: App, guard: Guard, r: Renderer
) -> None:
    async def log_page(request: web.Request, v: Visit) -> web.StreamResponse:
        """Groups newest first, 50 a page."""
        try:
            start = max(0, int(request.query.get("start", "0")))
        except ValueError:
            start = 0
        found = await communications_page(
            uow=app.uow(), identity=v.user.identity, offset=start, limit=PAGE_SIZE
        )
        return r.page(
            "communications.html.j2",
            user=v.user,
            csrf_token=v.csrf_token,
            nav="communications",
            log=found,
            kinds=KIND_LABELS,
            start=start,
            page_size=PAGE_SIZE,
        )

    async def delivery_log(request: web.Request, v: Visit) -> web.StreamResponse:
        """One row per message (``?group=`` one group's), streamed in keyset batches."""
        group = request.query.get("group") or None
        if group is not None and not _GROUP.fullmatch(group):
            raise web.HTTPBadRequest(text="Unknown group.")
        chunks = await delivery_log_csv(
            uow=app.uow(),
            identity=v.user.identity,
            zone=r.zone,
            now=app.clock.now(),
            group=group,
        )
        name = f"delivery-log-{group.replace(':', '-')}.csv" if group else "delivery-log.csv"
        response = web.StreamResponse(headers=attachment_headers(name))
        response.content_type = "text/csv"
        response.charset = "utf-8"
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk.encode())
        await response.write_eof()
        return response

    async def texts(request: web.Request, v: Visit) -> web.StreamResponse:
        """Each recorded communication's text once, with its delivery counts."""
        text = await communications_csv(
            uow=app.uow(), identity=v.user.identity, zone=r.zone, now=app.clock.now()
        )
        return web.Response(
            text=text, content_type="text/csv", headers=attachment_headers("communications.csv")
        )

    add = web_app.router
    add.add_get("/hr/communications", guard.wrap(log_page))
    add.add_get("/hr/communications/delivery-log.csv", guard.wrap(delivery_log))
    add.add_get("/hr/communications/communications.csv", guard.wrap(texts))
