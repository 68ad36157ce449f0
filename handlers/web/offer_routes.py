"""The console's offer page: extend or amend the offer (two-person rule: a second admin
approves on the page). Registered by :func:`handlers.web.routes.add_console_routes`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.domain.errors import DomainError
from bot.domain.local_time import parse_instant
from bot.domain.terms import OfferTerms
from bot.services.errors import ServiceError
from bot.services.offer.amendment_wording import amendment_reply
from bot.services.offer.deadline_follow_ups import EmailRenderer
from bot.services.offer.extension import (
    AmendmentResult,
    amend_offer,
    approve_amendment,
    extend_offer,
    list_amendments,
    reject_amendment,
)
from bot.services.offer.live_offer import current_terms
from handlers.web.guard import Guard, Visit
from handlers.web.render import Renderer

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["add_offer_routes"]


def add_offer_routes(web_app: web.Application, app: App, guard: Guard, r: Renderer) -> None:
    settings = app.settings

    async def terms() -> OfferTerms:
        return await current_terms(uow=app.uow(), terms=app.base_terms)

    def page(name: str, v: Visit, *, status: int = 200, **context: object) -> web.Response:
        return r.page(name, status=status, user=v.user, csrf_token=v.csrf_token, **context)

    # --- offer: extension and approvals -------------------------------------------------------

    async def offer_page(
        v: Visit, *, message: str = "", error: str = "", status: int = 200
    ) -> web.Response:
        t = await terms()
        found = await list_amendments(uow=app.uow(), base_terms=app.base_terms)
        return page(
            "offer.html.j2",
            v,
            nav="offer",
            status=status,
            terms=t,
            amendments=list(reversed(found)),
            two_person=settings.two_person_rule,
            default_to=r.local_input(t.expiration),
            message=message,
            error=error,
        )

    async def offer_get(request: web.Request, v: Visit) -> web.StreamResponse:
        """The expiration, the extension form, amendments awaiting approval."""
        return await offer_page(v)

    def _email_renderer() -> EmailRenderer:
        from handlers.email.render import reply_renderer

        return reply_renderer(app.base_terms.company_short_name)

    async def extend_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """``offerbot hr extend`` from the page."""
        assert v.form is not None
        try:
            new_expiration = parse_instant(str(v.form.get("to", "")), r.zone)
        except ValueError:
            return await offer_page(v, error="Give the new expiration date and time.", status=400)
        try:
            result = await extend_offer(
                uow=app.uow(),
                base_terms=app.base_terms,
                settings=settings,
                identity=v.user.identity,
                new_expiration=new_expiration,
                announce=v.form.get("announce") == "yes",
                message=str(v.form.get("message", ""))[:2000],
                now=app.clock.now(),
                render_email=_email_renderer(),
            )
        except (DomainError, ServiceError) as exc:
            return await offer_page(v, error=str(exc), status=409)
        return await offer_page(v, message=_amendment_text(result))

    async def amend_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """``offerbot hr amend`` from the page (the ten-business-day rule, §2, p. 13-14)."""
        assert v.form is not None
        try:
            result = await amend_offer(
                uow=app.uow(),
                base_terms=app.base_terms,
                settings=settings,
                identity=v.user.identity,
                description=str(v.form.get("description", ""))[:4000],
                extend=v.form.get("extend") == "yes",
                announce=v.form.get("announce") == "yes",
                message=str(v.form.get("message", ""))[:2000],
                now=app.clock.now(),
                render_email=_email_renderer(),
            )
        except (DomainError, ServiceError) as exc:
            return await offer_page(v, error=str(exc), status=409)
        return await offer_page(v, message=_amendment_text(result))

    async def decide_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """Approve or reject an amendment awaiting a second admin."""
        assert v.form is not None
        try:
            amendment_id = int(request.match_info["amendment_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        try:
            if request.match_info["decision"] == "approve":
                result = await approve_amendment(
                    uow=app.uow(),
                    base_terms=app.base_terms,
                    identity=v.user.identity,
                    amendment_id=amendment_id,
                    now=app.clock.now(),
                    render_email=_email_renderer(),
                )
            else:
                result = await reject_amendment(
                    uow=app.uow(),
                    base_terms=app.base_terms,
                    identity=v.user.identity,
                    amendment_id=amendment_id,
                    now=app.clock.now(),
                )
        except (DomainError, ServiceError) as exc:
            return await offer_page(v, error=str(exc), status=409)
        return await offer_page(v, message=_amendment_text(result))

    add = web_app.router
    add.add_get("/hr/offer", guard.wrap(offer_get))
    add.add_post("/hr/offer/extend", guard.wrap(extend_post, action=True))
    add.add_post("/hr/offer/amend", guard.wrap(amend_post, action=True))
    add.add_post(
        "/hr/offer/amendments/{amendment_id}/{decision:approve|reject}",
        guard.wrap(decide_post, action=True),
    )


def _amendment_text(result: AmendmentResult) -> str:
    reply = amendment_reply(result)
    return " ".join((reply.text, *reply.notes))
