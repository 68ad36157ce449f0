"""The console's questions pages: the questions the bot could not answer, a reply to the
employee (previewed, then queued through the outbox on the channel they asked on), and the
question-bank suggestions with their review. Registered by
:func:`handlers.web.routes.add_console_routes`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.services.errors import InvalidRequestError, NotFoundError, ServiceError
from bot.services.hr.question_replies import (
    SUGGESTION_LABELS,
    SUGGESTION_STATUSES,
    citable_entries,
    decide_suggestion,
    list_suggestions,
    question_view,
    reply_preview,
    reply_to_question,
    suggest_for_bank,
    suggestions_bank_text,
)
from bot.services.hr.web_console import mark_question_answered, open_questions
from bot.services.offer.deadline_follow_ups import EmailRenderer
from handlers.web.guard import Guard, Visit
from handlers.web.render import Renderer

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["add_question_routes"]

_NOTICES = {
    "replied": "Reply queued. It goes out on the employee's channel within a minute; it shows "
    "on their page under Messages sent.",
    "suggested": "Suggestion saved for review. It is not used for training until an admin "
    "accepts it and the accepted file is committed to the question bank.",
}


def _submitted(v: Visit) -> dict[str, str]:
    """The question page's fields present in the POST (both of its forms), length-capped."""
    assert v.form is not None
    return {k: str(v.form[k])[:5000] for k in ("reply", "cite", "text", "label") if k in v.form}


def add_question_routes(web_app: web.Application, app: App, guard: Guard, r: Renderer) -> None:
    entries = citable_entries(app.offer_dir)
    labels = {
        **{k: c.label() for k, c in entries.items()},
        "out_of_scope": "Out of scope (not about the offer)",
        "advice": "Asks for advice (gets the no-recommendation answer)",
    }

    def page(name: str, v: Visit, *, status: int = 200, **context: object) -> web.Response:
        return r.page(
            name, status=status, user=v.user, csrf_token=v.csrf_token, nav="questions", **context
        )

    def _email_renderer() -> EmailRenderer:
        from handlers.email.render import reply_renderer

        return reply_renderer(app.base_terms.company_short_name)

    def _id(request: web.Request, name: str) -> int:
        try:
            return int(request.match_info[name])
        except ValueError:
            raise web.HTTPNotFound() from None

    async def questions(request: web.Request, v: Visit) -> web.StreamResponse:
        """Unanswered questions, newest first."""
        found = await open_questions(uow=app.uow(), identity=v.user.identity)
        return page(
            "questions.html.j2",
            v,
            questions=found,
            notice=_NOTICES.get(request.query.get("notice", ""), ""),
        )

    async def answered_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """Mark one question answered."""
        try:
            await mark_question_answered(
                uow=app.uow(),
                identity=v.user.identity,
                question_id=_id(request, "question_id"),
                now=app.clock.now(),
            )
        except ServiceError:
            raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther("/hr/questions")

    async def question_page(
        v: Visit,
        question_id: int,
        *,
        values: dict[str, str] | None = None,
        preview: str = "",
        error: str = "",
        status: int = 200,
    ) -> web.Response:
        try:
            view = await question_view(
                uow=app.uow(), identity=v.user.identity, question_id=question_id
            )
        except NotFoundError as exc:
            return page("message.html.j2", v, status=404, message=str(exc))
        q = view.question
        best = q.best_entry_id if q.best_entry_id in entries else ""
        defaults = {
            "reply": "",
            "cite": best,
            "text": " ".join(q.question.split()),
            "label": best or ("out_of_scope" if q.reason == "out_of_scope" else ""),
        }
        # what the submitted form held wins (an empty "No citation" too); the other form on the
        # page keeps its defaults
        values = {**defaults, **(values or {})}
        return page(
            "question.html.j2",
            v,
            status=status,
            view=view,
            q=q,
            values=values,
            preview=preview,
            error=error,
            entries=entries,
            labels=labels,
            special=SUGGESTION_LABELS,
        )

    async def question_get(request: web.Request, v: Visit) -> web.StreamResponse:
        """One question: reply to the employee, or suggest it for the question bank."""
        return await question_page(v, _id(request, "question_id"))

    async def reply_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """``step=preview`` shows what the employee will read; ``step=send`` queues it."""
        assert v.form is not None
        question_id = _id(request, "question_id")
        values = _submitted(v)
        try:
            if v.form.get("step") != "send":
                shown = reply_preview(
                    text=values.get("reply", ""), entry_id=values.get("cite", ""), entries=entries
                )
                return await question_page(v, question_id, values=values, preview=shown)
            await reply_to_question(
                uow=app.uow(),
                identity=v.user.identity,
                question_id=question_id,
                text=values.get("reply", ""),
                entry_id=values.get("cite", ""),
                entries=entries,
                now=app.clock.now(),
                render_email=_email_renderer(),
            )
        except InvalidRequestError as exc:
            return await question_page(v, question_id, values=values, error=str(exc), status=409)
        except NotFoundError:
            raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther("/hr/questions?notice=replied")

    async def suggest_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """Store the question (as HR edited it) with a proposed label, for review."""
        assert v.form is not None
        question_id = _id(request, "question_id")
        values = _submitted(v)
        try:
            await suggest_for_bank(
                uow=app.uow(),
                identity=v.user.identity,
                text=values.get("text", ""),
                label=values.get("label", ""),
                entries=entries,
                offer_dir=app.offer_dir,
                now=app.clock.now(),
                question_id=question_id,
            )
        except InvalidRequestError as exc:
            return await question_page(v, question_id, values=values, error=str(exc), status=409)
        except NotFoundError:
            raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther("/hr/questions/suggestions?notice=suggested")

    async def suggestions(request: web.Request, v: Visit) -> web.StreamResponse:
        """Proposed bank examples; admins accept or reject the pending ones."""
        status = request.query.get("status", "pending")
        found = await list_suggestions(
            uow=app.uow(),
            identity=v.user.identity,
            status=status if status in SUGGESTION_STATUSES else None,
        )
        return page(
            "suggestions.html.j2",
            v,
            suggestions=found,
            shown=status if status in SUGGESTION_STATUSES else "",
            labels=labels,
            notice=_NOTICES.get(request.query.get("notice", ""), ""),
        )

    async def decide_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """Accept or reject one pending suggestion."""
        try:
            await decide_suggestion(
                uow=app.uow(),
                identity=v.user.identity,
                suggestion_id=_id(request, "suggestion_id"),
                accept=request.match_info["decision"] == "accept",
                now=app.clock.now(),
            )
        except NotFoundError:
            raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther("/hr/questions/suggestions")

    async def bank_file(request: web.Request, v: Visit) -> web.StreamResponse:
        """The accepted suggestions as a question-bank file, to review and commit."""
        text = await suggestions_bank_text(uow=app.uow(), identity=v.user.identity, entries=entries)
        return web.Response(
            text=text,
            content_type="text/plain",
            headers={
                "Content-Disposition": 'attachment; filename="hr-suggestions.txt"',
                "Cache-Control": "no-store",
            },
        )

    add = web_app.router
    add.add_get("/hr/questions", guard.wrap(questions))
    add.add_get("/hr/questions/suggestions", guard.wrap(suggestions))
    add.add_get("/hr/questions/suggestions/hr-suggestions.txt", guard.wrap(bank_file))
    add.add_post(
        r"/hr/questions/suggestions/{suggestion_id}/{decision:accept|reject}",
        guard.wrap(decide_post, action=True),
    )
    add.add_get(r"/hr/questions/{question_id:\d+}", guard.wrap(question_get))
    add.add_post("/hr/questions/{question_id}/answered", guard.wrap(answered_post, action=True))
    add.add_post(r"/hr/questions/{question_id:\d+}/reply", guard.wrap(reply_post, action=True))
    add.add_post(r"/hr/questions/{question_id:\d+}/suggest", guard.wrap(suggest_post, action=True))
