"""Scanned signed forms: HR's copy of the paper that arrived by fax or by hand, uploaded with
the receipt on the console and stored with it (``hr_form_scans``).

Only a PDF is taken (its first bytes must be ``%PDF-``: a name ending in ``.pdf`` proves
nothing), up to ``OFFERBOT_HR_CONSOLE_MAX_UPLOAD_MB``. Each scan keeps its SHA-256 and size, so
a copy handed to the stock administrator can be checked against the one on file. Scans are
personal data: only signed-in HR (viewer or admin) may download one, and every download is
audited with who took it.

Errors::

    ServiceError
    ├── ScanRefusedError (ValueError)   not a PDF, empty, or too large: a sentence for HR
    └── NotFoundError                   no such scan for that employee
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from bot.domain.records import AuditEntry
from bot.ports import UnitOfWork
from bot.services.access import require_operator
from bot.services.errors import NotFoundError, ServiceError
from bot.services.identity import Identity
from storage.hr_console_repo import FormScan, hr_console

__all__ = [
    "PDF_MAGIC",
    "FormScan",
    "ScanRefusedError",
    "ScannedForm",
    "download_scan",
    "scanned_form",
    "scans_of",
]

PDF_MAGIC = b"%PDF-"
_NAME_LIMIT = 120
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]+")


class ScanRefusedError(ServiceError, ValueError):
    """The uploaded file cannot be kept as the scanned form; nothing was recorded."""


@dataclass(frozen=True, slots=True)
class ScannedForm:
    """A checked upload: a PDF within the size limit, with its digest."""

    filename: str
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def _clean_name(name: str) -> str:
    """The file's own name, for showing: no folders, no control characters, not too long."""
    base = re.split(r"[/\\]", name)[-1]
    return _UNSAFE_NAME.sub("", base).strip()[:_NAME_LIMIT] or "scan.pdf"


def _size_text(n: int) -> str:
    """``10 MB``, ``512 KB`` (binary units, as the setting is in MiB)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} MB"
    return f"{n / 1024:.3g} KB"


def scanned_form(
    *, filename: str, content: bytes, max_bytes: int, truncated: bool = False
) -> ScannedForm:
    """Check an upload; ``truncated``: the reader stopped at ``max_bytes`` (the file is larger).

    Raises :class:`ScanRefusedError` with the sentence to show."""
    shown = _clean_name(filename)
    if truncated or len(content) > max_bytes:
        raise ScanRefusedError(
            f"The scanned form {shown!r} is larger than {_size_text(max_bytes)}; scan it at a "
            "lower resolution or in black and white and upload it again. Nothing was recorded."
        )
    if not content:
        raise ScanRefusedError(f"The scanned form {shown!r} is empty. Nothing was recorded.")
    if not content.startswith(PDF_MAGIC):
        raise ScanRefusedError(
            f"The scanned form must be a PDF file; {shown!r} is not one (a PDF starts with "
            "'%PDF-'). Save the scan as PDF and upload it again. Nothing was recorded."
        )
    return ScannedForm(filename=shown, content=content, sha256=hashlib.sha256(content).hexdigest())


async def scans_of(*, uow: UnitOfWork, identity: Identity, employee_id: str) -> list[FormScan]:
    """The employee's scans, without their bytes."""
    require_operator(identity)
    async with uow:
        return await hr_console(uow).scans_for(employee_id)


async def download_scan(
    *, uow: UnitOfWork, identity: Identity, employee_id: str, scan_id: int, now: datetime
) -> FormScan:
    """One scan with its bytes; the download is audited (who, which scan, its digest)."""
    require_operator(identity)
    async with uow:
        repo = hr_console(uow)
        scan = await repo.scan(scan_id)
        if scan is None or scan.employee_id != employee_id:
            raise NotFoundError(f"No scanned form #{scan_id} for employee {employee_id!r}.")
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="hr_console.scan.download",
                channel=identity.channel,
                subject=employee_id,
                detail={
                    "scan_id": scan_id,
                    "version": scan.version,
                    "sha256": scan.sha256,
                    "size": scan.size,
                },
            )
        )
        await uow.commit()
    return scan
