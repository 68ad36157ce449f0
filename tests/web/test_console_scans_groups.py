"""Scanned signed forms and figures by group in a real browser (Debian's chromium through
Playwright) against the console on loopback over a copy of the demo database, whose roster has
departments and locations."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.domain.elections import FormKind
from storage.hr_console_repo import hr_console
from tests.web.conftest import (
    ADMIN,
    ADMIN_PW,
    VIEWER,
    VIEWER_PW,
    Console,
    form_token,
    http_sign_in,
    offerbot_json,
    sign_in,
    start_console,
)

# A small but real PDF body with binary bytes after the header, as scanners write them.
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"


def _file(name: str, content: bytes, mime: str = "application/pdf") -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": content}


async def test_upload_a_scanned_pdf_and_download_it_back(
    console: Console, new_page: Any, http: aiohttp.ClientSession
) -> None:
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url("/hr/receive?employee=E1001&version=1"))
    await page.get_by_label("Scanned signed form (optional, PDF, at most 10 MB)").set_input_files(
        _file("E1001 signed form.pdf", PDF)
    )
    await page.get_by_role("button", name="Record the form").click()
    await page.wait_for_url(console.url("/hr/employees/E1001?notice=receipt"))
    link = page.get_by_role("link", name="E1001 signed form.pdf")
    assert "v1" in await page.locator("#scans").inner_text()
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    assert Path(await download.path()).read_bytes() == PDF
    assert download.suggested_filename == "E1001-v1-signed-form-1.pdf"
    href = await link.get_attribute("href")
    assert href == "/hr/employees/E1001/scans/1"

    # A viewer may download it too; the response is an attachment, never shown inline.
    viewer = await new_page()
    await sign_in(viewer, console, VIEWER, VIEWER_PW)
    response = await viewer.request.get(console.url(href))
    assert response.status == 200 and await response.body() == PDF
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"

    # Without a session: the sign-in page, not the file.
    async with http.get(console.url(href), allow_redirects=False) as anonymous:
        assert anonymous.status == 302
        assert anonymous.headers["Location"].startswith("/hr/login?next=")
        assert (await anonymous.read()) != PDF

    async with console.app.uow() as uow:
        downloads = await uow.audit.with_action("hr_console.scan.download")
        (receipt,) = await uow.elections.receipts_for("E1001")
        (stored,) = await hr_console(uow).scans_for("E1001")
    assert sorted(d.actor for d in downloads) == ["web:hr@example.com", "web:viewer@example.com"]
    assert receipt.form is FormKind.ELECTION and stored.size == len(PDF)


async def test_a_non_pdf_or_too_large_scan_is_refused_and_the_form_kept(
    console_db: Path, tmp_path: Path, new_page: Any
) -> None:
    console, runner = await start_console(console_db, tmp_path, hr_console_max_upload_mb=1)
    try:
        page = await new_page()
        await sign_in(page, console, ADMIN, ADMIN_PW)
        await page.goto(console.url("/hr/receive?employee=E1002&version=1"))
        scan_field = page.get_by_label("Scanned signed form (optional, PDF, at most 1 MB)")
        for upload, sentence in (
            (_file("notes.txt", b"not a scan", "text/plain"), "must be a PDF file; 'notes.txt'"),
            (_file("renamed.pdf", b"GIF89a" + bytes(500)), "'renamed.pdf' is not one"),
            (_file("huge.pdf", PDF + bytes(1_200_000)), "'huge.pdf' is larger than 1 MB"),
        ):
            await page.get_by_label("Hand delivery").check()
            await scan_field.set_input_files(upload)
            await page.get_by_role("button", name="Record the form").click()
            await page.wait_for_selector("#error")
            assert sentence in await page.locator("#error").inner_text()
            assert "Nothing was recorded." in await page.locator("#error").inner_text()
            # Everything else typed in is still there.
            assert await page.get_by_label("Employee id").input_value() == "E1002"
            assert await page.get_by_label("Hand delivery").is_checked()
        async with console.app.uow() as uow:
            assert await uow.elections.receipts_for("E1002") == []
            assert await hr_console(uow).scans_for("E1002") == []
    finally:
        await runner.cleanup()
        await console.app.aclose()


async def test_figures_by_department_and_location_equal_the_report(
    console: Console, new_page: Any
) -> None:
    cli = offerbot_json(console.cwd, "hr", "report", db=console.db)
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    api = await (await page.request.get(console.url("/hr/api/report"))).json()
    cli["now"] = api["now"]  # the CLI's clock is the fixture's, the page's the test's
    assert api["by_group"] == cli["by_group"]
    for dimension in ("department", "location"):
        groups = api["by_group"][dimension]
        assert sum(g["eligible"]["people"] for g in groups) == 293
        table = page.locator(f"#by-{dimension} tbody tr")
        assert await table.count() == len(groups)
        for i, g in enumerate(groups):
            cells = table.nth(i)
            assert await cells.locator("th").inner_text() == g["group"]
            eligible = await cells.locator('td[data-step="eligible"]').inner_text()
            intents = await cells.locator('td[data-step="intent_recorded"]').inner_text()
            assert eligible.split() == [
                f"{g['eligible']['people']:,}",
                f"{g['eligible']['shares']:,}",
            ]
            assert intents.split()[0] == str(g["intent_recorded"]["people"])

    # A group's name leads to the employee list filtered by it, shown and exported.
    await page.locator("#by-department").get_by_role("link", name="Engineering").click()
    assert await page.get_by_label("Department").input_value() == "Engineering"
    rows = page.locator("table.list tbody tr")
    assert await rows.count() > 0
    await page.get_by_label("Location").select_option("Van Nuys, CA")
    await page.get_by_role("button", name="Show").click()
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    text = Path(await (await info.value).path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert exported and {(r["department"], r["location"]) for r in exported} == {
        ("Engineering", "Van Nuys, CA")
    }
    assert all(r["manager_email"].endswith("@example.com") for r in exported)
    shown = await page.locator("#count").inner_text()
    assert shown == f"{len(exported)} employee{'s' if len(exported) != 1 else ''}."


@pytest.mark.parametrize("width", [390])
async def test_phone_width_keyboard_and_zone_abbreviations(
    console: Console, new_page: Any, width: int
) -> None:
    page = await new_page(width)
    await sign_in(page, console, ADMIN, ADMIN_PW)
    for path in ("/hr/", "/hr/employees", "/hr/employees/E1001", "/hr/receive", "/hr/offer",
                 "/hr/questions"):  # fmt: skip
        await page.goto(console.url(path))
        # Nothing wider than the phone: wide tables scroll inside their own box.
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, (path, overflow)
        # The first Tab lands on the skip link, which is visible when focused.
        await page.keyboard.press("Tab")
        focused = page.locator(":focus")
        assert await focused.inner_text() == "Skip to content", path
        box = await focused.bounding_box()
        assert box is not None and box["x"] >= 0, path
        # Every form control has a label.
        unlabelled = await page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
        text = await page.locator("main").inner_text()
        assert "PDT" in text or path in ("/hr/employees", "/hr/questions"), path


async def test_a_multipart_post_without_its_csrf_token_stores_nothing(
    console: Console, http: aiohttp.ClientSession
) -> None:
    assert await http_sign_in(http, console, ADMIN, ADMIN_PW) == 303
    token = await form_token(http, console.url("/hr/receive"))

    def form(csrf: str | None) -> aiohttp.FormData:
        data = aiohttp.FormData()
        if csrf is not None:
            data.add_field("csrf_token", csrf)
        for name, value in (("employee_id", "E1002"), ("form", "election"), ("version", "1"),
                            ("received_at", "2003-07-10T09:00"), ("via", "fax")):  # fmt: skip
            data.add_field(name, value)
        data.add_field("scan", PDF, filename="s.pdf", content_type="application/pdf")
        return data

    for csrf in (None, "forged"):
        async with http.post(console.url("/hr/receive"), data=form(csrf)) as refused:
            assert refused.status == 403
    async with console.app.uow() as uow:
        assert await hr_console(uow).scans_for("E1002") == []
    async with http.post(
        console.url("/hr/receive"), data=form(token), allow_redirects=False
    ) as accepted:
        assert accepted.status == 303
        assert accepted.headers["Location"] == "/hr/employees/E1002?notice=receipt"
    async with console.app.uow() as uow:
        (stored,) = await hr_console(uow).scans_for("E1002")
    assert stored.filename == "s.pdf" and stored.uploaded_by == "web:hr@example.com"
