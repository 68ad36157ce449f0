"""Reading a ``multipart/form-data`` form (the receipt with its scanned form) with aiohttp's own
streaming reader, never more than a fixed amount in memory.

``request.post()`` would keep the whole body (and refuses anything over the app's
``client_max_size``, losing the typed-in fields with it). Here each part is read a chunk at a
time: text fields up to :data:`FIELD_LIMIT` each, the file up to ``max_file_bytes`` — past
that the file is marked too large and the rest of it is read and dropped (up to
:data:`DRAIN_FACTOR` times the limit, so the browser gets the answer instead of a reset
connection, then the connection is closed) — and the other fields are still returned, so the
page can show them again with one sentence about the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from multidict import MultiDict, MultiDictProxy

__all__ = ["FIELD_LIMIT", "Upload", "read_form_with_file"]

FIELD_LIMIT = 64 * 1024  # one text field
_FIELDS = 64  # text fields in one form
_CHUNK = 64 * 1024
DRAIN_FACTOR = 4


class FormTooLargeError(web.HTTPRequestEntityTooLarge):
    pass


@dataclass(frozen=True, slots=True)
class Upload:
    """The file field: ``content`` is complete unless ``truncated`` (it was too large)."""

    filename: str
    content: bytes
    truncated: bool = False


async def _read_part(part: BodyPartReader, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the part; True when there were more (the rest is dropped)."""
    buffer = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        if len(buffer) + len(chunk) > limit:
            buffer.extend(chunk[: limit - len(buffer) + 1])  # one byte over: proof of excess
            dropped = 0
            while more := await part.read_chunk(_CHUNK):
                dropped += len(more)
                if dropped > DRAIN_FACTOR * limit:
                    raise FormTooLargeError(max_size=limit, actual_size=limit + dropped)
            return bytes(buffer[:limit]), True
        buffer.extend(chunk)
    return bytes(buffer), False


async def read_form_with_file(
    request: web.Request, *, file_field: str, max_file_bytes: int
) -> tuple[MultiDictProxy[str], Upload | None]:
    """The text fields, and the file of ``file_field`` (None when no file was chosen)."""
    reader = await request.multipart()
    fields: MultiDict[str] = MultiDict()
    upload: Upload | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue  # a nested multipart or a nameless part: not from our form
        if part.filename is not None:
            if part.name != file_field:
                continue  # the reader skips what is not read
            content, truncated = await _read_part(part, max_file_bytes)
            if part.filename or content:  # a file input left empty sends an empty part
                upload = Upload(part.filename, content, truncated)
            continue
        if len(fields) >= _FIELDS:
            raise FormTooLargeError(max_size=_FIELDS, actual_size=len(fields) + 1)
        raw, truncated = await _read_part(part, FIELD_LIMIT)
        if truncated:
            raise FormTooLargeError(max_size=FIELD_LIMIT, actual_size=FIELD_LIMIT + 1)
        charset = part.get_charset(default="utf-8")
        fields.add(part.name, raw.decode(charset, errors="replace"))
    return MultiDictProxy(fields), upload
