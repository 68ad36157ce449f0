"""Inbound MIME → :class:`InboundMail`: sender, threading ids, the new text of the message
(HTML reduced to text, quoted replies and signatures cut), and why not to answer it.

Parsing uses the standard library with ``email.policy.default``, after the message passed the
limits of :mod:`handlers.email.limits` (size, header size, encoded words: the stdlib's header
parser is quadratic). Broken charsets fall back to UTF-8 with replacement; a message over a
limit raises :class:`MailRejected`, one that still cannot be read :class:`UnreadableMail` (the
caller records it as rejected, logs it without its body and moves on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from handlers.email.limits import MailLimits, MailRejected, UnreadableMail, check_parts, check_raw

__all__ = [
    "InboundMail",
    "MailLimits",
    "MailRejected",
    "UnreadableMail",
    "html_to_text",
    "parse_mail",
    "strip_quotes_and_signature",
    "why_not_answer",
]

MAX_TEXT = 4000  # characters of a question we look at
# Characters of the body read to find them: the new text is at the top (HTML's style blocks
# may come first); reducing all of a 10 MB HTML body to text took 20 s.
MAX_BODY_SOURCE = 256 * 1024


@dataclass(frozen=True, slots=True)
class InboundMail:
    sender: str  # the From address, normalized (lower-case); "" when missing or ambiguous
    display_name: str
    subject: str
    text: str  # the new text: no quotes, no signature
    message_id: str | None
    references: tuple[str, ...]
    headers: dict[str, str]  # lower-cased names of the headers loop protection looks at
    has_form_attachment: bool  # a PDF or image attached: perhaps a scanned form
    return_path: str | None


_LOOP_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "list-post",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "authentication-results",
    "content-type",
)


def parse_mail(raw: bytes, *, limits: MailLimits | None = None) -> InboundMail:
    """Raises :class:`MailRejected` over a limit, :class:`UnreadableMail` if unreadable."""
    limits = limits or MailLimits()
    check_raw(raw, limits)
    try:
        # The limits are checked on a split made with ``compat32``, whose header values stay
        # raw strings: ``policy.default`` parses every part's Content-Type while it splits
        # (to find the boundaries), and a 60 KB one took 3.7-10 s of CPU before any limit
        # could see it. The real parse runs only on a message that passed.
        check_parts(message_from_bytes(raw, policy=policy.compat32), limits)
        message = message_from_bytes(raw, policy=policy.default)
    except RecursionError as exc:  # MIME parts nested thousands deep
        raise UnreadableMail("nesting") from exc
    except MailRejected:
        raise
    except Exception as exc:  # the parser is lenient; anything here is a library edge case
        raise UnreadableMail(type(exc).__name__) from exc
    if not isinstance(message, EmailMessage) or not message.keys():
        raise UnreadableMail("no headers")
    headers = {name: _header(message, name) for name in _LOOP_HEADERS}
    headers["authentication-results"] = " ;; ".join(
        _safe_str(v) for v in (message.get_all("Authentication-Results") or [])
    )
    display, sender = _sender(message)
    return InboundMail(
        sender=sender,
        display_name=display,
        subject=_header(message, "subject"),
        text=strip_quotes_and_signature(_body_text(message))[:MAX_TEXT],
        message_id=_message_id(_header(message, "message-id")),
        references=tuple(_ids(_header(message, "references"))),
        headers=headers,
        has_form_attachment=_has_form_attachment(message),
        return_path=_header(message, "return-path") or None,
    )


def why_not_answer(mail: InboundMail, *, own_addresses: set[str]) -> str | None:
    """RFC 3834 and common practice: a reason not to answer this message, or None."""
    h = mail.headers
    auto = h["auto-submitted"].strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return "auto-submitted"
    if h["precedence"].strip().lower() in ("bulk", "list", "junk"):
        return "precedence"
    if h["list-id"] or h["list-unsubscribe"] or h["list-post"]:
        return "list"
    if h["x-autoreply"] or h["x-autorespond"]:
        return "auto-reply"
    if "multipart/report" in h["content-type"].lower():
        return "report"
    if not mail.sender:
        return "no-sender"
    local = mail.sender.split("@")[0]
    if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "bounces"):
        return "mailer-daemon"
    if mail.return_path is not None and mail.return_path.strip() == "<>":
        return "null-return-path"
    if mail.sender in own_addresses:
        return "own-address"
    return None


def dmarc_pass(mail: InboundMail, authserv_id: str) -> bool:
    """``Authentication-Results: <authserv_id> [version]; … dmarc=pass`` added by our own
    server. Only the topmost header carrying that authserv-id counts (RFC 8601 §5: it is the
    one our server prepended last); one further down may have been forged by the sender."""
    for result in mail.headers["authentication-results"].split(" ;; "):
        head, _, rest = result.partition(";")
        words = head.split()
        if words and words[0].lower() == authserv_id.lower():
            return re.search(r"\bdmarc\s*=\s*pass\b", rest, re.I) is not None
    return False


# --- bodies ---------------------------------------------------------------------------------


def _body_text(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    content = _content(part)[:MAX_BODY_SOURCE]
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:
        pass  # unknown or lying charset: decode the bytes ourselves below
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            return payload.decode("utf-8", errors="replace")
    return ""


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}
    )
    _SKIP = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in self._SKIP or (tag == "div" and "gmail_quote" in classes) or self._skipping:
            if tag not in ("br", "hr", "img", "meta", "link", "input"):
                self._skipping += 1
            return
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            self._skipping -= 1
            return
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; quoted blocks (``blockquote``, Gmail quotes) dropped."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # HTMLParser is lenient, but never let markup stop the inbox
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(extractor.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_QUOTE_HEADER = re.compile(
    r"^(On .{0,200}wrote:?|-{2,}\s*Original Message\s*-{2,}|_{5,}|From:\s.+|"
    r"Le .{0,200}a écrit ?:|Am .{0,200}schrieb .{0,100}:)\s*$",
    re.I,
)
_SIGNATURE = re.compile(r"^(--\s?|Sent from my \w+.*|Get Outlook for .*)$", re.I)


def strip_quotes_and_signature(text: str) -> str:
    """Keep only the new text: cut at the first quote header or signature delimiter and drop
    ``>`` lines."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if _QUOTE_HEADER.match(stripped) or _SIGNATURE.match(line.rstrip("\n")):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


# --- headers --------------------------------------------------------------------------------


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return ""


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse
        value = None
    return _safe_str(value) if value is not None else ""


def _sender(message: EmailMessage) -> tuple[str, str]:
    """(display name, address) of a single From address; ("", "") otherwise."""
    raw = _header(message, "from")
    try:
        pairs = [(n, a) for n, a in getaddresses([raw]) if a]
    except Exception:
        pairs = [parseaddr(raw)]
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        return "", ""
    name, address = pairs[0]
    return name, address.strip().lower()


def _ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value)


def _message_id(value: str) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _has_form_attachment(message: EmailMessage) -> bool:
    try:
        for part in message.iter_attachments():
            if part.get_content_type() == "application/pdf" or part.get_content_maintype() == (
                "image"
            ):
                return True
    except Exception:
        return False
    return False
