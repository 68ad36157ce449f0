"""The console's pages under ``/hr/``. Each handler parses the request, awaits one service and
renders a template; who may do what is decided in :mod:`handlers.web.guard`."""

from __future__ import annotations

import base64
import ipaddress
import logging
from datetime import timedelta
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from bot.domain.elections import Delivery, FormKind
from bot.domain.errors import DomainError
from bot.domain.local_time import parse_instant
from bot.domain.roster import file_name_part
from bot.domain.terms import OfferTerms
from bot.runtime.bootstrap import ConfigurationError
from bot.services import elections
from bot.services.errors import ServiceError
from bot.services.hr.form_scans import ScanRefusedError, download_scan, scanned_form
from bot.services.hr.web_accounts import SignInRefusedError, csrf_matches, sign_in, sign_out
from bot.services.hr.web_console import (
    STATE_LABELS,
    ConsoleState,
    EmployeeFilters,
    dashboard,
    employee_file,
    export_employees,
    list_employees,
)
from bot.services.offer.live_offer import current_terms
from handlers.web.communications_routes import add_communications_routes
from handlers.web.guard import COOKIE, LOGIN_COOKIE, Guard, Visit
from handlers.web.offer_routes import add_offer_routes
from handlers.web.question_routes import add_question_routes
from handlers.web.render import Renderer, attachment_headers

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["add_console_routes"]

logger = logging.getLogger(__name__)

_CSS = files("handlers.web").joinpath("static/console.css").read_bytes()
_PAGE_SIZE = 200


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _safe_next(target: str | None) -> str:
    """Only a path of the console itself (no ``//evil.example``, no scheme)."""
    if target and target.startswith("/hr/") and not target.startswith("//"):
        return target
    return "/hr/"


def add_console_routes(web_app: web.Application, app: App, *, host: str) -> None:
    """Add ``/hr/…`` to ``web_app`` (before it starts). ``host``: the address ``serve`` listens
    on; a cookie without ``Secure`` is allowed only on loopback."""
    settings = app.settings
    if not settings.hr_console_secure_cookie and not _loopback(host):
        raise ConfigurationError(
            "OFFERBOT_HR_CONSOLE_SECURE_COOKIE=false is allowed only with --host 127.0.0.1 "
            "(or another loopback address): elsewhere the session cookie must be Secure"
        )
    terms0 = app.base_terms
    r = Renderer(terms0.deadline_zone)
    guard = Guard(app, r, secure_cookie=settings.hr_console_secure_cookie)

    async def terms() -> OfferTerms:
        return await current_terms(uow=app.uow(), terms=app.base_terms)

    def page(name: str, v: Visit, *, status: int = 200, **context: object) -> web.Response:
        return r.page(name, status=status, user=v.user, csrf_token=v.csrf_token, **context)

    # --- sign-in ------------------------------------------------------------------------------

    def login_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
        token = guard.new_login_token()
        response = r.page(
            "login.html.j2",
            status=status,
            user=None,
            nav="",
            csrf_token=token,
            next=_safe_next(request.query.get("next")),
            error=error,
        )
        guard.set_cookie(response, LOGIN_COOKIE, token)
        return response

    async def login_get(request: web.Request) -> web.StreamResponse:
        """The sign-in form."""
        return login_page(request)

    async def login_post(request: web.Request) -> web.StreamResponse:
        """Check the password (rate-limited) and set the session cookie."""
        form = await request.post()
        given = form.get("csrf_token")
        if not csrf_matches(
            request.cookies.get(LOGIN_COOKIE, ""), given if isinstance(given, str) else None
        ):
            return guard.refused(request, "This form has expired. Reload the page.", None)
        try:
            session = await sign_in(
                uow=app.uow(),
                email=str(form.get("email", "")),
                password=str(form.get("password", "")),
                address=request.remote or "unknown",
                now=app.clock.now(),
                max_failures=settings.hr_console_max_failures,
            )
        except SignInRefusedError as exc:
            return login_page(request, error=str(exc), status=401)
        response = _see_other(_safe_next(str(form.get("next", ""))))
        guard.set_cookie(response, COOKIE, session.token)
        response.del_cookie(LOGIN_COOKIE, path="/hr")
        return response

    async def logout(request: web.Request, v: Visit) -> web.StreamResponse:
        """End this session."""
        await sign_out(
            uow=app.uow(), token=request.cookies.get(COOKIE, ""), user=v.user, now=app.clock.now()
        )
        response = _see_other("/hr/login")
        response.del_cookie(COOKIE, path="/hr")
        return response

    # --- dashboard and report -----------------------------------------------------------------

    async def home(request: web.Request, v: Visit) -> web.StreamResponse:
        """The dashboard."""
        t, now = await terms(), app.clock.now()
        data = await dashboard(uow=app.uow(), terms=t, identity=v.user.identity, now=now)
        return page("dashboard.html.j2", v, nav="home", d=data, terms=t, now=now)

    async def api_report(request: web.Request, v: Visit) -> web.StreamResponse:
        """``offerbot hr report --json``, the same service."""
        t = await terms()
        data = await elections.hr_report(
            uow=app.uow(), terms=t, identity=v.user.identity, now=app.clock.now()
        )
        return web.json_response(data, headers={"Cache-Control": "no-store"})

    # --- employees ----------------------------------------------------------------------------

    async def employees(request: web.Request, v: Visit) -> web.StreamResponse:
        """Search and filter; ``?format=csv`` downloads the filtered list."""
        state_value = request.query.get("state", "")
        filters = EmployeeFilters(
            query=request.query.get("q", "").strip()[:100],
            state=ConsoleState(state_value) if state_value in set(ConsoleState) else None,
            department=request.query.get("department", "").strip()[:200],
            location=request.query.get("location", "").strip()[:200],
        )
        rows, counts, groups = await list_employees(
            uow=app.uow(), terms=await terms(), identity=v.user.identity, filters=filters
        )
        base = filters.as_params()
        if request.query.get("format") == "csv":
            text = await export_employees(
                uow=app.uow(),
                identity=v.user.identity,
                rows=rows,
                filters=base,
                now=app.clock.now(),
            )
            return web.Response(
                text=text,
                content_type="text/csv",
                headers={
                    "Content-Disposition": 'attachment; filename="employees.csv"',
                    "Cache-Control": "no-store",
                },
            )
        try:
            start = max(0, int(request.query.get("start", "0")))
        except ValueError:
            start = 0
        shown = rows[start : start + _PAGE_SIZE]
        return page(
            "employees.html.j2",
            v,
            nav="employees",
            rows=shown,
            total=len(rows),
            start=start,
            page_size=_PAGE_SIZE,
            counts=counts,
            labels=STATE_LABELS,
            q=filters.query,
            state=filters.state,
            filters=filters,
            groups=groups,
            csv_url="/hr/employees?" + urlencode({**base, "format": "csv"}),
            next_url="/hr/employees?" + urlencode({**base, "start": start + _PAGE_SIZE}),
            prev_url="/hr/employees?" + urlencode({**base, "start": max(0, start - _PAGE_SIZE)}),
        )

    async def employee(request: web.Request, v: Visit) -> web.StreamResponse:
        """One employee's file."""
        t = await terms()
        eid = request.match_info["employee_id"]
        try:
            f = await employee_file(
                uow=app.uow(),
                terms=t,
                identity=v.user.identity,
                employee_id=eid,
                now=app.clock.now(),
            )
        except ServiceError as exc:
            return page("message.html.j2", v, status=404, nav="employees", message=str(exc))
        return page(
            "employee.html.j2",
            v,
            nav="employees",
            f=f,
            labels=STATE_LABELS,
            terms=t,
            notice=request.query.get("notice", ""),
        )

    # --- receipts -----------------------------------------------------------------------------

    def receive_page(
        v: Visit, *, values: dict[str, str], error: str = "", status: int = 200
    ) -> web.Response:
        return page(
            "receive.html.j2",
            v,
            nav="receive",
            values=values,
            error=error,
            status=status,
            zone_abbr=app.clock.now().astimezone(r.zone).tzname(),
            max_upload_mb=settings.hr_console_max_upload_mb,
        )

    async def receive_get(request: web.Request, v: Visit) -> web.StreamResponse:
        """The form, received time defaulting to now (Pacific)."""
        values = {
            "employee_id": request.query.get("employee", "")[:64],
            "form": "election",
            "version": request.query.get("version", "1")[:6],
            "received_at": r.local_input(app.clock.now()),
            "via": "fax",
        }
        return receive_page(v, values=values)

    async def receive_post(request: web.Request, v: Visit) -> web.StreamResponse:
        """``offerbot hr receive`` from the page: the same service, the same sentences."""
        assert v.form is not None
        values = {
            k: str(v.form.get(k, "")).strip()
            for k in ("employee_id", "form", "version", "received_at", "via")
        }
        t = await terms()
        scan = None
        if v.upload is not None:
            try:
                scan = scanned_form(
                    filename=v.upload.filename,
                    content=v.upload.content,
                    max_bytes=guard.max_upload_bytes,
                    truncated=v.upload.truncated,
                )
            except ScanRefusedError as exc:
                return receive_page(v, values=values, status=400, error=str(exc))
        try:
            received_at = parse_instant(values["received_at"], t.deadline_zone)
        except ValueError as exc:  # not a time, or one the clocks skipped or showed twice
            return receive_page(
                v, values=values, status=400, error=f"Check the received time: {exc}."
            )
        try:
            form_kind, via = FormKind(values["form"]), Delivery(values["via"])
            version = int(values["version"])
        except ValueError:
            return receive_page(
                v,
                values=values,
                status=400,
                error="Give the form (election or withdrawal), its version (a number), the "
                "received time and fax or hand.",
            )
        try:
            result = await elections.record_receipt(
                uow=app.uow(),
                terms=t,
                employee_id=values["employee_id"],
                form=form_kind,
                version=version,
                received_at=received_at,
                via=via,
                identity=v.user.identity,
                now=app.clock.now(),
                sla_alert_before=timedelta(hours=settings.receipt_sla_alert_hours),
                scan=scan,
            )
        except (DomainError, ServiceError) as exc:
            return receive_page(v, values=values, error=str(exc), status=409)
        eid = result.receipt.employee_id
        raise web.HTTPSeeOther(f"/hr/employees/{eid}?notice=receipt")

    async def scan_download(request: web.Request, v: Visit) -> web.StreamResponse:
        """A scanned signed form, as an attachment, to signed-in HR only; audited."""
        eid = request.match_info["employee_id"]
        try:
            scan = await download_scan(
                uow=app.uow(),
                identity=v.user.identity,
                employee_id=eid,
                scan_id=int(request.match_info["scan_id"]),
                now=app.clock.now(),
            )
        except ServiceError as exc:
            return page("message.html.j2", v, status=404, nav="employees", message=str(exc))
        name = f"{file_name_part(eid)}-v{scan.version}-signed-form-{scan.id}.pdf"
        return web.Response(
            body=scan.content,
            content_type="application/pdf",
            headers={
                **attachment_headers(name),
                "Repr-Digest": f"sha-256=:{_b64_hex(scan.sha256)}:",  # RFC 9530
            },
        )

    async def stylesheet(_request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=_CSS, content_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    async def to_console(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/hr/")

    add = web_app.router
    add.add_get("/hr", to_console)
    add.add_get("/hr/static/console.css", stylesheet)
    add.add_get("/hr/login", login_get)
    add.add_post("/hr/login", login_post)
    add.add_post("/hr/logout", guard.wrap(logout))
    add.add_get("/hr/", guard.wrap(home))
    add.add_get("/hr/api/report", guard.wrap(api_report))
    add.add_get("/hr/employees", guard.wrap(employees))
    add.add_get("/hr/employees/{employee_id}", guard.wrap(employee))
    add.add_get("/hr/receive", guard.wrap(receive_get))
    add.add_post("/hr/receive", guard.wrap(receive_post, action=True, upload_field="scan"))
    add.add_get(r"/hr/employees/{employee_id}/scans/{scan_id:\d{1,9}}", guard.wrap(scan_download))
    add_offer_routes(web_app, app, guard, r)  # /hr/offer…
    add_question_routes(web_app, app, guard, r)  # /hr/questions…
    add_communications_routes(web_app, app, guard, r)  # /hr/communications…


def _b64_hex(digest: str) -> str:
    """A hex SHA-256 as the base64 a ``Repr-Digest`` header carries."""
    return base64.b64encode(bytes.fromhex(digest)).decode("ascii")


def _see_other(location: str) -> web.Response:
    """A 303 that can carry cookies (aiohttp's HTTPSeeOther is raised, not returned)."""
    return web.Response(status=303, headers={"Location": location})
