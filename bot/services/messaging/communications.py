"""The communications log for the filing: every written communication, verbatim, with its reach.

Written communications about a tender offer are filed with the SEC (Schedule TO exhibits), so
HR needs each broadcast and reminder exactly as it went out (see
:mod:`bot.domain.communications`). :func:`export_communications` writes, into one folder:

* ``NNN-<kind>-<yyyy-mm-dd>.txt`` per communication (``NNN`` in the order they were recorded,
  the date in the offer's zone): a header (key, kind, first/last sent, people reached by
  channel, queued/sent/failed copies) and the subject, body and announcement-channel post as
  stored — placeholders such as ``{name}`` included;
* ``index.csv`` and ``index.json``: one row per communication, with the channels it went out on.

Nothing in the files depends on when the export ran, so exporting again over the same folder
rewrites the same bytes (until more copies are delivered).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from bot.domain.communications import Communication, CommunicationStats
from bot.ports import UnitOfWork
from bot.private_files import EXPORT_DIR_MODE, write_private
from bot.services.spreadsheet import spreadsheet_writer

__all__ = [
    "INDEX_COLUMNS",
    "ExportedCommunication",
    "communication_file_text",
    "export_communications",
    "exported_json",
]

INDEX_COLUMNS = (
    "number",
    "file",
    "key",
    "kind",
    "created_at",
    "subject",
    "first_sent_at",
    "last_sent_at",
    "queued",
    "sent",
    "failed",
    "ambiguous",
    "pending",
    "channels",
    "sent_by_channel",
    "has_channel_post",
)

_NO_COPIES = CommunicationStats(
    queued=0, sent=0, failed=0, first_sent_at=None, last_sent_at=None, by_channel={}
)


@dataclass(frozen=True, slots=True)
class ExportedCommunication:
    number: int
    file: str  # the file's name inside the export folder
    communication: Communication
    stats: CommunicationStats

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels at least one copy went out on."""
        return tuple(sorted(ch for ch, sent in self.stats.by_channel.items() if sent))

    @property
    def pending(self) -> int:
        s = self.stats
        return s.queued - s.sent - s.failed - s.ambiguous


def _iso(instant: datetime | None, zone: tzinfo) -> str:
    return "" if instant is None else instant.astimezone(zone).isoformat()


def _file_name(number: int, communication: Communication, zone: tzinfo) -> str:
    kind = re.sub(r"[^a-z0-9_]+", "-", communication.kind.lower()).strip("-") or "communication"
    day = communication.created_at.astimezone(zone).date().isoformat()
    return f"{number:03d}-{kind}-{day}.txt"


def communication_file_text(item: ExportedCommunication, *, zone: tzinfo) -> str:
    """One communication's file: header, then subject, body and post exactly as stored."""
    c, s = item.communication, item.stats
    reached = ", ".join(f"{ch} {n}" for ch, n in sorted(s.by_channel.items())) or "none"
    header = [
        f"Communication {item.number:03d}",
        f"Key: {c.key}",
        f"Kind: {c.kind}",
        f"Recorded: {_iso(c.created_at, zone)}",
        f"First sent: {_iso(s.first_sent_at, zone) or 'not sent'}",
        f"Last sent: {_iso(s.last_sent_at, zone) or 'not sent'}",
        f"Recipients reached by channel: {reached}",
        f"Channels: {', '.join(item.channels) or 'none'}",
        f"Copies queued: {s.queued}; sent: {s.sent}; failed: {s.failed}; "
        f"ambiguous: {s.ambiguous}; pending: {item.pending}",
    ]
    parts = [
        "\n".join(header),
        "----- subject -----",
        c.subject,
        "----- body -----",
        c.body,
    ]
    if c.channel_post is not None:
        parts += ["----- announcement-channel post -----", c.channel_post]
    text = "\n".join(parts)
    return text if text.endswith("\n") else text + "\n"


def _row(item: ExportedCommunication, zone: tzinfo) -> dict[str, Any]:
    c, s = item.communication, item.stats
    return {
        "number": item.number,
        "file": item.file,
        "key": c.key,
        "kind": c.kind,
        "created_at": _iso(c.created_at, zone),
        "subject": c.subject,
        "first_sent_at": _iso(s.first_sent_at, zone) or None,
        "last_sent_at": _iso(s.last_sent_at, zone) or None,
        "queued": s.queued,
        "sent": s.sent,
        "failed": s.failed,
        "ambiguous": s.ambiguous,
        "pending": item.pending,
        "channels": list(item.channels),
        "sent_by_channel": dict(sorted(s.by_channel.items())),
        "has_channel_post": c.channel_post is not None,
    }


def exported_json(items: list[ExportedCommunication], *, zone: tzinfo) -> list[dict[str, Any]]:
    """The index rows (also what ``--json`` prints)."""
    return [_row(item, zone) for item in items]


def _index_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)  # subjects come from HR's typing: no formulas
    writer.writerow(INDEX_COLUMNS)
    for row in rows:
        cells = dict(row)
        cells["channels"] = ";".join(row["channels"])
        cells["sent_by_channel"] = ";".join(f"{k}={v}" for k, v in row["sent_by_channel"].items())
        cells["first_sent_at"] = row["first_sent_at"] or ""
        cells["last_sent_at"] = row["last_sent_at"] or ""
        cells["has_channel_post"] = "yes" if row["has_channel_post"] else "no"
        writer.writerow([cells[column] for column in INDEX_COLUMNS])
    return buffer.getvalue()


def _write(path: Path, text: str) -> None:
    """Replace ``path`` in one step (an interrupted export never leaves half a file), 0640."""
    write_private(path, text)


async def export_communications(
    uow: UnitOfWork, out_dir: Path, *, zone: tzinfo = UTC
) -> list[ExportedCommunication]:
    """Write the communications log into ``out_dir`` (created if missing); dates in ``zone``
    (pass the offer's deadline zone). Returns what was written, oldest first."""
    async with uow:
        communications = await uow.communications.list_all()
        stats = await uow.communications.stats([c.reference for c in communications])
    items = [
        ExportedCommunication(
            number=n,
            file=_file_name(n, c, zone),
            communication=c,
            stats=stats.get(c.reference, _NO_COPIES),
        )
        for n, c in enumerate(communications, start=1)
    ]
    out_dir.mkdir(mode=EXPORT_DIR_MODE, parents=True, exist_ok=True)
    for item in items:
        _write(out_dir / item.file, communication_file_text(item, zone=zone))
    rows = exported_json(items, zone=zone)
    _write(out_dir / "index.csv", _index_csv(rows))
    index = {"count": len(rows), "communications": rows}
    _write(out_dir / "index.json", json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    return items
