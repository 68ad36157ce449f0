"""Who is asking, before any console page runs: the session cookie, the idle timeout, the CSRF
token of every form, and the viewer/admin split.

* ``GET`` without a live session → ``302`` to ``/hr/login?next=…``; ``POST`` → ``403``.
* ``POST`` whose ``csrf_token`` field is missing or not the session's → ``403``.
* ``POST`` to an action by a viewer → ``403``, written to the audit log with their identity.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy

from bot.services.hr.web_accounts import (
    ConsoleUser,
    csrf_matches,
    record_refusal,
    session_user,
)
from handlers.web.uploads import Upload, read_form_with_file

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App
    from handlers.web.render import Renderer

__all__ = ["COOKIE", "LOGIN_COOKIE", "Guard", "Visit"]

logger = logging.getLogger(__name__)

COOKIE = "offerbot_hr"
LOGIN_COOKIE = "offerbot_hr_login"  # the sign-in form's CSRF token (double submit)


@dataclass(frozen=True, slots=True)
class Visit:
    """A request from a signed-in person."""

    user: ConsoleUser
    csrf_token: str
    form: MultiDictProxy[Any] | None  # the POSTed fields (None for GET)
    upload: Upload | None = None  # the file of a multipart form, if one was chosen


Page = Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]


class Guard:
    def __init__(self, app: App, renderer: Renderer, *, secure_cookie: bool) -> None:
        self.app = app
        self.renderer = renderer
        self.secure_cookie = secure_cookie

    @property
    def max_upload_bytes(self) -> int:
        return self.app.settings.hr_console_max_upload_mb * 1024 * 1024

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.app.settings.hr_console_idle_minutes)

    def set_cookie(self, response: web.StreamResponse, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            path="/hr",
            secure=self.secure_cookie,
            httponly=True,
            samesite="Lax",
        )

    def new_login_token(self) -> str:
        return secrets.token_urlsafe(32)

    def wrap(
        self, handler: Page, *, action: bool = False, upload_field: str | None = None
    ) -> Callable[..., Any]:
        """``handler`` behind the session check; ``action``: only admins may POST to it;
        ``upload_field``: the form may be multipart with a file in this field, read as a stream
        with the size cap ``OFFERBOT_HR_CONSOLE_MAX_UPLOAD_MB`` (:mod:`handlers.web.uploads`)."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            live = await session_user(
                uow=self.app.uow(),
                token=request.cookies.get(COOKIE, ""),
                now=self.app.clock.now(),
                idle=self.idle,
            )
            if live is None:
                if request.method == "GET":
                    target = request.path_qs
                    raise web.HTTPFound(f"/hr/login?next={quote(target, safe='/')}")
                return self.refused(request, "Your session has ended. Sign in again.", None)
            form: MultiDictProxy[Any] | None = None
            upload = None
            if request.method == "POST":
                if upload_field and request.content_type == "multipart/form-data":
                    form, upload = await read_form_with_file(
                        request, file_field=upload_field, max_file_bytes=self.max_upload_bytes
                    )
                else:
                    form = await request.post()
                assert form is not None
                given = form.get("csrf_token")
                if not csrf_matches(live.csrf_token, given if isinstance(given, str) else None):
                    logger.info("hr console: POST without a valid CSRF token refused (403)")
                    return self.refused(
                        request, "This form has expired. Reload the page and try again.", live.user
                    )
                if action and not live.user.is_admin:
                    await record_refusal(
                        uow=self.app.uow(),
                        user=live.user,
                        path=request.path,
                        now=self.app.clock.now(),
                    )
                    return self.refused(
                        request,
                        "Your account can see the console but not act in it: ask an HR admin.",
                        live.user,
                        csrf=live.csrf_token,
                    )
            return await handler(request, Visit(live.user, live.csrf_token, form, upload))

        return guarded

    def refused(
        self, request: web.Request, message: str, user: ConsoleUser | None, *, csrf: str = ""
    ) -> web.Response:
        return self.renderer.page(
            "refused.html.j2", status=403, message=message, user=user, csrf_token=csrf, nav=""
        )
