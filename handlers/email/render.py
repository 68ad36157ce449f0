"""Pure rendering: a :class:`~bot.replies.Reply` or an outbox row → text + HTML → a MIME message.

Every e-mail shares one layout (``templates/base.html.j2`` / ``base.txt.j2``): the company's
name, the subject as the heading, the body, and a footer saying why the person receives it.
Each message kind has a ``KIND.txt.j2`` / ``KIND.html.j2`` pair over ``base`` that only sets
its footer (the answers' templates also lay out tables and sources).

Services write bodies as plain text that reads well on its own — and that Slack shows as is —
with a few Markdown conventions, which this module turns into HTML (markdown-it, raw HTML off,
so whatever a body holds is escaped):

* a blank line between paragraphs; ``- `` starts a list item;
* a quoted paragraph (``> ``) is a highlighted fact — the deadline and the time left;
* a quoted paragraph that starts with ``Next step`` ("Next step:", "Next step (only if …):")
  is the message's one call to action.

A quoted paragraph's lead-in up to its first colon ("Deadline:", "Next step:") is set in bold.

The plain-text part is the body without the ``> `` marks. Nothing here does I/O beyond loading
templates, and no remote resource (image, font, stylesheet) is ever referenced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache, lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.replies import Reply

__all__ = [
    "CALL_TO_ACTION",
    "body_html",
    "body_text",
    "build_email",
    "new_message_id",
    "render_message",
    "render_message_pieces",
    "render_reply",
    "reply_renderer",
]

CALL_TO_ACTION = "Next step:"  # how a body marks its one call to action (a quoted paragraph)

# What a person types back to get each follow-up (a Slack button, an e-mail reply word).
_REPLY_WORDS = {
    "grants": "grants",
    "deadline": "deadline",
    "status": "status",
    "help": "help",
    "talk_to_hr": "contacts",
}

# Inline styles: many mail clients drop <style>; the dark-mode overrides in base.html.j2 are
# a progressive enhancement over these light defaults (each sets text and background).
_STYLE = {
    "p": "margin: 0 0 14px 0;",
    "ul": "margin: 0 0 14px 0; padding-left: 22px;",
    "ol": "margin: 0 0 14px 0; padding-left: 22px;",
    "li": "margin: 0 0 4px 0;",
    "code": "font-family: Consolas, Menlo, monospace; font-size: 13px;",
}
_BOX = "margin: 0 0 16px 0; padding: 12px 14px; border-radius: 6px; border-left: 4px solid"
_HIGHLIGHT = f"{_BOX} #b7791f; background-color: #fff8e6; color: #1f2328;"
_ACTION = f"{_BOX} #1f6feb; background-color: #eef4ff; color: #1f2328; font-size: 15px;"


@cache
def _markdown() -> MarkdownIt:
    """CommonMark with only paragraphs, lists, quotes, line breaks and inline code: no raw
    HTML, links, images, headings or emphasis, so a body's ``*``, ``_``, ``#`` and ``<`` stay
    what they are."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    md.disable(
        [
            "code",
            "fence",
            "html_block",
            "html_inline",
            "image",
            "link",
            "autolink",
            "heading",
            "lheading",
            "hr",
            "reference",
            "emphasis",
            "escape",
            "entity",
        ]
    )
    return md


def _label(inline: Token, label: str) -> None:
    """Make the leading ``label`` ("Next step:", "Deadline:") of a paragraph bold."""
    children = inline.children or []
    if not children or children[0].type != "text" or not children[0].content.startswith(label):
        return
    rest = children[0].content[len(label) :]
    label_text, tail = Token("text", "", 0), Token("text", "", 0)
    label_text.content, tail.content = label, rest
    strong = [Token("strong_open", "strong", 1), label_text, Token("strong_close", "strong", -1)]
    inline.children = [*strong, tail, *children[1:]]


def _styled(tokens: Sequence[Token]) -> None:
    """Inline styles on every block; quotes become the highlight and call-to-action boxes."""
    for i, token in enumerate(tokens):
        if token.type == "blockquote_open":
            inline = next((t for t in tokens[i + 1 :] if t.type == "inline"), None)
            action = inline is not None and inline.content.startswith(CALL_TO_ACTION[:-1])
            token.tag = "div"
            token.attrSet("class", "ob-action" if action else "ob-highlight")
            token.attrSet("style", _ACTION if action else _HIGHLIGHT)
            if action:
                token.attrSet("role", "note")
            if inline is not None:
                head, colon, _ = inline.content.partition(":")
                if colon and len(head) <= 48 and not any(c.isdigit() for c in head):
                    _label(inline, f"{head}:")
        elif token.type == "blockquote_close":
            token.tag = "div"
        elif token.nesting == 1 and token.tag in _STYLE:
            token.attrSet("style", _STYLE[token.tag])
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "code_inline":
                    child.attrSet("style", _STYLE["code"])


def body_html(text: str) -> Markup:
    """The HTML of a body written with the conventions above (everything in it escaped).

    Rendered block by block (blocks are separated by a blank line, and the conventions never
    carry a block across one), each block cached: the 100,000 copies of a reminder or an
    announcement differ only in their greeting and list, so every other block is rendered
    once — the Markdown pass would otherwise be most of the sender's CPU per e-mail."""
    return Markup("".join(_body_html_pieces(text)))


def _body_html_pieces(text: str) -> list[str]:
    """:func:`body_html`'s markup, block by block (a shared block is the same string object in
    every copy: the e-mail writer caches its base64 by block).

    The first block — a broadcast's greeting, the one block its copies do not share — is
    rendered on its own and the rest of the body as one cached run, so a copy costs one
    lookup of the rest instead of a split and a lookup per block."""
    text = text.strip()
    first = _BLANK_LINE.search(text)
    if first is None:
        return [_block_or_plain_html(text)] if text else []
    # the text is stripped, so the part before its first blank line is never blank
    return [_block_or_plain_html(text[: first.start()]), *_rest_pieces(text[first.end() :])]


@lru_cache(maxsize=64)
def _rest_pieces(rest: str) -> tuple[str, ...]:
    """The markup of the blocks of ``rest`` (what follows a body's first blank line)."""
    return tuple(_block_or_plain_html(b) for b in _BLANK_LINE.split(rest) if b.strip())


_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A one-line block of words (an inner hyphen or apostrophe included), digits, spaces, commas
# and sentence-ending full stops — the greeting "Dear <name>," that makes every copy's body
# different — has nothing Markdown would change (no list marker, quote, break, code or escape;
# a letter first, no space last): it is its text in the paragraph's markup, which saves a
# Markdown parse per e-mail (a third of building a broadcast copy's bytes).
_PLAIN_BLOCK = re.compile(r"[^\W\d_](?:[^\W_]|[ ,]|\.(?= |\Z)|(?<=[^\W_])['-](?=[^\W_]))*+(?<! )")


_SHARED_BLOCKS: dict[str, str] = {}  # block → HTML, for the blocks every copy shares


def _block_or_plain_html(block: str) -> str:
    html = _SHARED_BLOCKS.get(block)  # looked up first: most blocks are shared and long
    if html is not None:
        return html
    if _PLAIN_BLOCK.fullmatch(block):
        head, tail = _plain_paragraph()
        return f"{head}{block}{tail}"
    html = _block_html(block)
    if len(_SHARED_BLOCKS) >= 4096:  # bounded: a new wording starts afresh
        _SHARED_BLOCKS.clear()
    _SHARED_BLOCKS[block] = html
    return html


@cache
def _plain_paragraph() -> tuple[str, str]:
    """The markup around a plain paragraph's text, as the Markdown pass renders it."""
    head, _, tail = _block_html("Plain").partition("Plain")
    return head, tail


def _block_html(block: str) -> str:
    md = _markdown()
    tokens = md.parse(block)
    _styled(tokens)
    # In a quote box the last paragraph needs no bottom margin.
    for i, token in enumerate(tokens):
        last = i + 3 < len(tokens) and tokens[i + 3].type == "blockquote_close"
        if token.type == "paragraph_open" and last:
            token.attrSet("style", "margin: 0;")
    return md.renderer.render(tokens, md.options, {})


def body_text(text: str) -> str:
    """The plain-text part of a body: the same words without the ``> `` marks."""
    if ">" not in text:  # no mark to take out (a broadcast's body): only the line ends
        return "\n".join(text.splitlines())
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(">"):
            line = stripped[1:].removeprefix(" ")
        lines.append(line)
    return "\n".join(lines)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("handlers.email", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def _render(name: str, **context: object) -> str:
    return _environment().get_template(name).render(**context)


def _heading(subject: str, company: str) -> str:
    """The subject without the ``<Company> option exchange: `` (or ``<Company>: ``) the brand
    line above it already says."""
    for prefix in (f"{company} option exchange: ", f"{company}: "):
        rest = subject.removeprefix(prefix)
        if rest != subject and rest:
            return rest[0].upper() + rest[1:]
    return subject


def render_reply(reply: Reply, *, company: str, subject: str) -> tuple[str, str]:
    """The e-mail body (text, HTML) of an answer: text, tables, notes, sources, reply words."""
    actions = [_REPLY_WORDS[a.action_id] for a in reply.actions if a.action_id in _REPLY_WORDS]
    context = {
        "reply": reply,
        "actions": actions,
        "company": company,
        "subject": subject,
        "heading": _heading(subject, company),
        "text_body": body_text(reply.text),
        "html_body": body_html(reply.text),
    }
    text = _render("answer.txt.j2", **context)
    html = _render("answer.html.j2", **context)
    return _tidy(text), html


def reply_renderer(company: str) -> Callable[[Reply, str], tuple[str, str]]:
    """``render_reply`` bound to the company: how services that queue e-mailed answers (the
    deadline follow-ups) get the same look without importing this adapter."""
    return lambda reply, subject: render_reply(reply, company=company, subject=subject)


@lru_cache(maxsize=256)
def _layout(kind: str, subject: str, company: str) -> tuple[str, str, str, str]:
    """(text head, text tail, HTML head, HTML tail) of a kind's templates around one body:
    rendered once per (kind, subject, company), so a broadcast of 100,000 copies renders its
    templates once and only each body's Markdown per copy."""
    mark = "OFFERBOT-BODY-7f3c91"
    context = {
        "company": company,
        "subject": subject,
        "heading": _heading(subject, company),
        "text_body": mark,
        "html_body": Markup(mark),
        # an answer stored without its HTML (an old row): its text alone, as a bare reply
        "reply": Reply(text=""),
        "actions": [],
    }
    text = _render(f"{kind}.txt.j2", **context)
    html = _render(f"{kind}.html.j2", **context)
    text_head, _, text_tail = text.partition(mark)
    html_head, _, html_tail = html.partition(mark)
    return text_head, text_tail, html_head, html_tail


def render_message(message: OutboxMessage, *, company: str) -> tuple[str, str]:
    """Text and HTML of an outbox row: as stored (answers), else its kind's template."""
    text, html = render_message_pieces(message, company=company)
    return text, "".join(html)


def render_message_pieces(message: OutboxMessage, *, company: str) -> tuple[str, list[str]]:
    """:func:`render_message`, the HTML as the pieces it is joined from: the layout's head, each
    block of the body, the layout's tail (a stored HTML part: one piece). The copies of a
    broadcast share all but their greeting's piece — the same string objects — which lets the
    e-mail writer encode the shared ones once (:mod:`handlers.email.message_bytes`)."""
    if message.body_html is not None:
        return message.body_text, [message.body_html]
    kind = message.kind.value if isinstance(message.kind, MessageKind) else str(message.kind)
    text_head, text_tail, html_head, html_tail = _layout(kind, message.subject, company)
    text = _tidy(text_head + body_text(message.body_text) + text_tail)
    return text, [html_head, *_body_html_pieces(message.body_text), html_tail]


def new_message_id(hostname: str) -> str:
    """A fresh ``<…@hostname>``, fixed on the outbox row before its first attempt."""
    return make_msgid(idstring="offerbot", domain=hostname)


def build_email(
    message: OutboxMessage, *, sender: str, recipient: str, company: str, now: datetime
) -> EmailMessage:
    """multipart/alternative (text + HTML), inside multipart/mixed when files are attached."""
    text, html = render_message(message, company=company)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now)
    if message.message_id:
        mail["Message-ID"] = message.message_id
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    if message.references:
        mail["References"] = message.references
    # RFC 3834: answers are auto-replied, everything else auto-generated; either way other
    # robots (and our own inbox) must not answer it.
    replied = message.kind is MessageKind.ANSWER
    mail["Auto-Submitted"] = "auto-replied" if replied else "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return mail


def _tidy(text: str) -> str:
    """Collapse the blank lines template blocks leave behind: each line without its trailing
    blanks, a run of blank lines as one, none at either end (in C-level steps, not a Python
    loop per line: this runs for every copy of a broadcast)."""
    joined = "\n".join(map(str.rstrip, text.splitlines()))
    return _BLANK_RUN.sub("\n\n", joined).strip() + "\n"


_BLANK_RUN = re.compile(r"\n\n\n+")  # two or more blank lines in a row
