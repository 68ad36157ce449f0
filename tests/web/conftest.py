"""HR web console fixtures: the demo roster with HR accounts (made by `offerbot` commands run
in the test process), the console served on loopback over a copy of it with a clock the test
moves, and Debian's chromium driven by Playwright.

The browser is skipped with an install hint when PyPI ``playwright`` or Debian ``chromium`` is
missing locally; ``scripts/test`` installs both, so CI runs these tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.clock import ManualClock, parse_instant
from bot.config import Settings
from bot.runtime.bootstrap import App, build
from handlers.http_ops import add_ops_routes
from handlers.web import add_console_routes
from tests.cli.runner import Ran
from tests.cli.runner import offerbot as in_process

ROOT = Path(__file__).resolve().parents[2]
DEMO_NOW = "2003-07-10T09:00:00-07:00"
ADMIN, ADMIN_PW = "hr@example.com", "pw-123456789"
ADMIN2, ADMIN2_PW = "hr2@example.com", "pw-second-admin"
VIEWER, VIEWER_PW = "viewer@example.com", "pw-viewer-only"
CHROMIUM = next(
    (p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def offerbot(
    cwd: Path, *args: str, db: Path, now: str = DEMO_NOW, stdin: str | None = None,
    check: bool = True, process: bool = False,
) -> Ran:  # fmt: skip
    """`offerbot ARGS` on the database ``db``, at the simulated clock ``now``.

    In the test process by default (:mod:`tests.cli.runner`: the real typer app, its own engine
    on the same file, no 1–2 s interpreter start), on a separate thread so the command's own
    ``asyncio.run`` never meets the test's running loop; the console waits, as it did while a
    child process ran. ``process=True`` runs a real ``python -m bot`` child instead, for the
    check that a separate process sees what the console wrote.
    """
    env = {"OFFERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "OFFERBOT_NOW": now}
    if not process:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(in_process, cwd, *args, env=env, stdin=stdin, check=check).result()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERBOT_")}
    child_env.update(
        env,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), child_env.get("PYTHONPATH")])),
        COLUMNS="160",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd, env=child_env, input=stdin, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"offerbot {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return Ran(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def offerbot_json(
    cwd: Path, *args: str, db: Path, now: str = DEMO_NOW, process: bool = False
) -> Any:
    return json.loads(
        offerbot(cwd, *args, "--json", db=db, now=now, check=False, process=process).stdout
    )


@pytest.fixture(scope="session")
def console_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full demo roster (293 eligible), two intents, two admins and a viewer."""
    folder = tmp_path_factory.mktemp("hr-console")
    db = folder / "template.db"
    offerbot(folder, "init", "--demo", "--json", db=db)
    offerbot(folder, "elect", "E1001", "--grant", "G00002", "--json", db=db)
    offerbot(folder, "elect", "E1002", "--grant", "G00005,G00006", "--json", db=db)
    for email, role, password in (
        (ADMIN, "admin", ADMIN_PW),
        (ADMIN2, "admin", ADMIN2_PW),
        (VIEWER, "viewer", VIEWER_PW),
    ):
        offerbot(
            folder, "hr", "admin", "add", email, "--role", role, "--password-stdin",
            db=db, stdin=password + "\n",
        )  # fmt: skip
    return db


@dataclass
class Console:
    app: App
    clock: ManualClock
    base: str  # http://127.0.0.1:PORT
    db: Path
    cwd: Path

    def url(self, path: str) -> str:
        return self.base + path


async def start_console(
    db_template: Path, tmp_path: Path, *, share: bool = False, **settings: Any
) -> tuple[Console, web.AppRunner]:
    """The console over a copy of ``db_template`` (``share``: over that very file, as a second
    replica of a running console)."""
    if share:
        db = db_template
    else:
        tmp_path.mkdir(parents=True, exist_ok=True)
        db = tmp_path / "offerbot.db"
        shutil.copy(db_template, db)
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{db}",
        hr_console_secure_cookie=False,  # plain http on loopback
        **settings,
    )
    clock = ManualClock(parse_instant(DEMO_NOW))
    application = build(config, clock=clock)
    web_app = web.Application()
    add_ops_routes(web_app, application)
    add_console_routes(web_app, application, host="127.0.0.1")
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Console(application, clock, f"http://127.0.0.1:{port}", db, tmp_path), runner


@pytest.fixture
async def console(console_db: Path, tmp_path: Path) -> AsyncIterator[Console]:
    """The console (two-person rule on) over a fresh copy of the demo database."""
    c, runner = await start_console(console_db, tmp_path, two_person_rule=True)
    try:
        yield c
    finally:
        await runner.cleanup()
        await c.app.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client with its own cookie jar (for what a browser would not send)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("pip install playwright (the browser tests drive Debian's chromium)")
    if CHROMIUM is None:
        pytest.skip("apt-get install chromium fonts-liberation (scripts/test does)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Any]:
    """``await new_page()``: a page in a fresh browser context (its own cookies)."""
    contexts = []

    async def make(width: int = 1280) -> Any:
        context = await browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        return await context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            await context.close()


async def sign_in(page: Any, console: Console, email: str, password: str) -> None:
    await page.goto(console.url("/hr/login"))
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(console.url("/hr/"))


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def form_token(http: aiohttp.ClientSession, url: str) -> str:
    """The CSRF token of the form on the page at ``url`` (for a test posting without a browser)."""
    async with http.get(url) as response:
        found = _CSRF.search(await response.text())
    assert found, url
    return found.group(1)


async def http_sign_in(http: aiohttp.ClientSession, console: Console, email: str, pw: str) -> int:
    """Sign ``http`` in through the login form; the response's status (303: signed in)."""
    token = await form_token(http, console.url("/hr/login"))
    async with http.post(
        console.url("/hr/login"),
        data={"csrf_token": token, "email": email, "password": pw, "next": "/hr/"},
        allow_redirects=False,
    ) as response:
        return response.status
