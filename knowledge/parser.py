"""Turn an SEC plain-text exchange offer into cited entries.

The parser follows the document's own structure, never fixed offsets, so another offer filed
in the same format parses too:

* printed pages come from the footers (``-13-``, ``-ii-``) that END each page; an entry that
  runs across a footer has pages like ``"13-14"``;
* the TABLE OF CONTENTS is cut out (its lines look like headings) and only used to check
  section titles and to page the part after the last footer (Schedule A);
* ``COVER`` is everything before the table of contents (or before the term sheet);
* ``Q1``… are the ``Q<n>.`` headings of the SUMMARY TERM SHEET;
* ``RISKS`` (the introduction) and ``RISK-1``… are the capitalised headings under CERTAIN RISKS
  OF PARTICIPATING IN THE OFFER; a group heading with text but no risk headings under it
  (e.g. business-related risks) is a risk entry itself;
* ``S1``… are the numbered sections of THE OFFER, found in order ("19." may even start
  mid-line after the previous section's last sentence);
* ``SCHED-A`` is Schedule A.

The proxy statement (a secondary source without page footers) becomes ``PROXY-1``… entries,
one per heading with text under it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Entry",
    "OfferParseError",
    "load_entries",
    "parse_offer",
    "parse_proxy",
    "sentence_case",
]


class OfferParseError(ValueError):
    """The text does not have the structure of an exchange offer (no term sheet, say)."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str  # "Q21", "S4", "RISK-3", "RISKS", "COVER", "SCHED-A", "PROXY-7"
    kind: str  # "cover", "question", "risks", "risk", "section", "schedule", "proxy"
    title: str
    text: str  # paragraphs separated by blank lines, lines joined
    pages: str  # printed pages: "5", "13-14", "i-ii"; "" when the source has none
    question: str = ""  # Q entries: the question as asked
    page_refs: tuple[str, ...] = ()  # Q entries: the pages the answer refers to ("8-9", "13")
    source: str = "offer"  # "offer" or "proxy"
    group: str = ""  # risks: the group heading ("Economic risks")

    @property
    def family(self) -> str:
        """The label family used by the evaluation sets: RISK-3 → RISKS, PROXY-2 → PROXY."""
        if self.id.startswith("RISK"):
            return "RISKS"
        if self.id.startswith("PROXY"):
            return "PROXY"
        return self.id


# --- pages -------------------------------------------------------------------------------

_FOOTER = re.compile(r"(?m)^[ \t]*-([0-9]{1,3}|[ivxlcdm]{1,6}|[A-Z]-\d{1,3})-[ \t]*$")
_MARKUP = re.compile(r"(?m)^[ \t]*</?(PAGE|TABLE|CAPTION|S|C)>.*$")
_TOC_LINE = re.compile(r"^(?P<title>\S.*?)\s*(?:\.\s?){3,}[ .]*\s+(?P<page>[A-Z]?-?\w+)\s*$")


@dataclass(frozen=True, slots=True)
class _Pages:
    ends: list[tuple[int, str]]  # (offset of footer, printed page label) in order

    def at(self, offset: int, fallback: str = "") -> str:
        for end, label in self.ends:
            if offset < end:
                return label
        return fallback or (self.ends[-1][1] if self.ends else "")

    def span(self, start: int, end: int, fallback: str = "") -> str:
        first, last = self.at(start, fallback), self.at(max(start, end - 1), fallback)
        return first if first == last else f"{first}-{last}"


def _last_text_offset(text: str, start: int, end: int) -> int:
    """The offset just after the last real character before ``end`` (footers excluded)."""
    chunk = _MARKUP.sub(lambda m: " " * len(m.group()), text[start:end])
    chunk = _FOOTER.sub(lambda m: " " * len(m.group()), chunk)
    return start + len(chunk.rstrip())


# --- text cleaning -----------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.:;?!)\"]$")


def _clean(raw: str) -> str:
    """Paragraphs separated by one blank line; a paragraph broken by a page footer is rejoined."""
    raw = _FOOTER.sub("\x00", raw)
    raw = _MARKUP.sub("\x00", raw)
    paragraphs: list[str] = []
    broken = False  # the previous paragraph was cut by a footer
    for block in re.split(r"\n[ \t]*\n", raw):
        has_break = "\x00" in block
        lines = [
            re.sub(r"[ \t]{2,}", " ", ln.strip()) for ln in block.replace("\x00", "\n").split("\n")
        ]
        text = " ".join(ln for ln in lines if ln)
        if not text:
            broken = broken or has_break
            continue
        if (
            paragraphs
            and broken
            and not _SENTENCE_END.search(paragraphs[-1])
            and (text[0].islower() or text[0] in "$(")
        ):
            paragraphs[-1] = f"{paragraphs[-1]} {text}"
        else:
            paragraphs.append(text)
        broken = has_break
    return "\n\n".join(paragraphs)


def _is_caps(text: str) -> bool:
    # str.isupper first: it rejects an ordinary line in C, and most lines are ordinary
    return text.isupper() and sum(c.isalpha() for c in text) >= 3


def _case_map(text: str) -> dict[str, str]:
    """How each word is usually written mid-sentence in the body ("capstone" → "Capstone")."""
    counts: dict[str, Counter[str]] = {}
    for line in text.splitlines():
        if _is_caps(line):
            continue
        for m in re.finditer(r"(?<=[a-z,] )([A-Za-z][A-Za-z.'-]*[A-Za-z.]|[A-Za-z])\b", line):
            word = m.group(1)
            counts.setdefault(word.lower().rstrip("."), Counter())[word.rstrip(".")] += 1
    result = {}
    for low, seen in counts.items():
        form, n = seen.most_common(1)[0]
        if form != low and n >= 2 and seen.get(low, 0) * 10 <= n:
            result[low] = form
    result["i"] = "I"
    phrases: Counter[str] = Counter(
        m.group(1)
        for line in text.splitlines()
        if not _is_caps(line)
        for m in re.finditer(r"(?<=[a-z,] )([A-Z][a-z]+(?: (?:of |to )?[A-Z][a-z]+)+)", line)
    )
    for phrase, n in phrases.items():
        if n >= 3:
            result[phrase.lower()] = phrase
    return result


def sentence_case(caps: str, case_map: dict[str, str]) -> str:
    """``WHO IS ELIGIBLE TO PARTICIPATE?`` → ``Who is eligible to participate?``."""
    words = re.split(r"(\s+)", " ".join(caps.split()).lower())
    out = []
    for word in words:
        core = word.strip("\"'(),;:?!")
        cased = case_map.get(core) or case_map.get(core.rstrip("."))
        if cased and cased.lower().startswith(core.rstrip(".")):
            word = word.replace(core.rstrip("."), cased[: len(core.rstrip("."))], 1)
        out.append(word)
    text = "".join(out)
    for low, phrase in case_map.items():
        if " " in low and low in text.lower():
            text = re.sub(re.escape(low), phrase, text, flags=re.I)
    text = re.sub(r"([?!.]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text[:1].upper() + text[1:]


# --- the offer ---------------------------------------------------------------------------


def _heading_line(text: str, pattern: str, start: int = 0) -> re.Match[str] | None:
    return re.compile(rf"(?m)^[ \t]*{pattern}[ \t]*$").search(text, start)


def _toc(text: str) -> tuple[tuple[int, int] | None, dict[str, str], list[str]]:
    """The table of contents: its span, page of each part, and the numbered section titles."""
    start = _heading_line(text, r"TABLE OF CONTENTS")
    if start is None:
        return None, {}, []
    footer = _FOOTER.search(text, start.end())
    end = footer.end() if footer else start.end()
    pages: dict[str, str] = {}
    sections: list[str] = []
    pending = ""
    for line in text[start.end() : end].splitlines():
        m = _TOC_LINE.match(line.strip())
        if not m:
            stripped = line.strip()
            pending = stripped if stripped and not stripped.startswith("<") else ""
            continue
        title = re.sub(r"\s+", " ", f"{pending} {m.group('title')}").strip(" .")
        pending = ""
        numbered = re.match(r"(\d+)\.\s+(.*)", title)
        if numbered:
            sections.append(numbered.group(2))
        pages[title.upper()] = m.group("page")
    return (start.start(), end), pages, sections


def parse_offer(text: str) -> list[Entry]:
    """Entries of an offer document in reading order."""
    text = text.replace("\r\n", "\n")
    pages = _Pages([(m.start(), m.group(1)) for m in _FOOTER.finditer(text)])
    toc_span, toc_pages, toc_sections = _toc(text)
    body_start = toc_span[1] if toc_span else 0
    case_map = _case_map(text)

    def span_of(start: int, end: int, fallback: str = "") -> str:
        return pages.span(start, _last_text_offset(text, start, end), fallback)

    sheet = _heading_line(text, r"SUMMARY TERM SHEET", body_start)
    if sheet is None:
        raise OfferParseError("no SUMMARY TERM SHEET heading")
    risks = _heading_line(text, r"CERTAIN RISKS OF PARTICIPATING IN THE OFFER", sheet.end())
    offer = _heading_line(text, r"THE OFFER", risks.end() if risks else sheet.end())
    if offer is None:
        raise OfferParseError("no THE OFFER heading")
    schedule = _heading_line(text, r"SCHEDULE A", offer.end())

    entries: list[Entry] = []
    cover_end = toc_span[0] if toc_span else sheet.start()
    title_match = re.search(r"(?m)^[ \t]*(OFFER TO EXCHANGE [^\n]+)$", text[:cover_end])
    cover_title = sentence_case(title_match.group(1), case_map) if title_match else "Cover"
    entries.append(
        Entry("COVER", "cover", cover_title, _clean(text[:cover_end]), span_of(0, cover_end))
    )
    entries += _questions(
        text, sheet.end(), risks.start() if risks else offer.start(), case_map, span_of
    )
    if risks:
        entries += _risks(text, risks.end(), offer.start(), case_map, span_of)
    end = schedule.start() if schedule else len(text)
    entries += _sections(text, offer.end(), end, toc_sections, span_of)
    if schedule:
        rest = text[schedule.end() :]
        first = re.search(r"\S[^\n]*(?:\n[ \t]*[A-Z][A-Z ,.&]*\n)?", rest)
        heading = " ".join(first.group().split()) if first and _is_caps(first.group()) else ""
        fallback = next((p for t, p in toc_pages.items() if t.startswith("SCHEDULE A")), "")
        entries.append(
            Entry(
                "SCHED-A",
                "schedule",
                sentence_case(heading, case_map) if heading else "Schedule A",
                _clean(rest),
                span_of(schedule.start(), len(text), fallback),
            )
        )
    return entries


_Q_HEAD = re.compile(r"(?m)^Q(\d+)\.[ \t]+(\S[^\n]*(?:\n[ \t]+\S[^\n]*)*)")
_PAGE_REF = re.compile(r"\(Pages?\s+([0-9]+(?:\s*(?:-|and|,)\s*[0-9]+)*)\)")


def _questions(text: str, start: int, end: int, case_map: dict[str, str], span_of) -> list[Entry]:  # type: ignore[no-untyped-def]
    heads = [m for m in _Q_HEAD.finditer(text, start, end)]
    result = []
    for i, m in enumerate(heads):
        stop = heads[i + 1].start() if i + 1 < len(heads) else end
        question = " ".join(m.group(2).split())
        body = _clean(text[m.end() : stop])
        refs = tuple(
            re.sub(r"\s+", "", r.group(1)).replace("and", ",") for r in _PAGE_REF.finditer(body)
        )
        title = sentence_case(question, case_map)
        result.append(
            Entry(
                f"Q{m.group(1)}",
                "question",
                title,
                body,
                span_of(m.start(), stop),
                question=title,
                page_refs=refs,
            )
        )
    return result


def _paragraph_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for m in re.finditer(r"\n[ \t]*\n", text[start:end]):
        spans.append((pos, start + m.start()))
        pos = start + m.end()
    spans.append((pos, end))
    return [
        (s, e)
        for s, e in spans
        if text[s:e].strip()
        and not _FOOTER.fullmatch(text[s:e].strip())
        and not _MARKUP.fullmatch(text[s:e].strip())
    ]


def _risks(text: str, start: int, end: int, case_map: dict[str, str], span_of) -> list[Entry]:  # type: ignore[no-untyped-def]
    """Capitalised, unindented paragraphs are risk headings; centred caps lines are groups."""
    blocks: list[tuple[str, int, int]] = []  # kind, start, end
    for s, e in _paragraph_spans(text, start, end):
        raw = text[s:e].strip("\n")
        raw = _FOOTER.sub("", _MARKUP.sub("", raw)).strip("\n")
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" \t"))
        if _is_caps(raw) and "\n" not in raw.strip() and indent >= 10:
            blocks.append(("group", s, e))
        elif _is_caps(raw) and indent == 0:
            blocks.append(("heading", s, e))
        else:
            blocks.append(("text", s, e))
    entries: list[Entry] = []
    intro_end = next((s for kind, s, _ in blocks if kind != "text"), end)
    entries.append(
        Entry(
            "RISKS",
            "risks",
            "Certain risks of participating in the offer",
            _clean(text[start:intro_end]),
            span_of(start, intro_end),
        )
    )
    group = ""
    n = 0
    i = 0
    while i < len(blocks):
        kind, s, e = blocks[i]
        if kind == "text":
            i += 1
            continue
        j = i + 1
        while j < len(blocks) and blocks[j][0] == "text":
            j += 1
        stop = blocks[j][1] if j < len(blocks) else end
        heading = " ".join(text[s:e].split())
        if kind == "group":
            group = sentence_case(heading, case_map)
            if j == i + 1:  # headings follow: a plain group
                i = j
                continue
        n += 1
        entries.append(
            Entry(
                f"RISK-{n}",
                "risk",
                sentence_case(heading, case_map).rstrip("."),
                _clean(text[e:stop]),
                span_of(s, stop),
                group=group,
            )
        )
        i = j
    return entries


def _sections(text: str, start: int, end: int, toc_titles: list[str], span_of) -> list[Entry]:  # type: ignore[no-untyped-def]
    from rapidfuzz import fuzz  # parsing only: a process that reads the snapshot never does

    found: list[tuple[int, int, int, str]] = []  # number, heading start, heading end, title
    pos, number = start, 1
    while True:
        head = re.compile(
            rf"(?m)(?:^[ \t]*|(?<=\.[ \t])){number}\.[ \t]+"
            r"(?P<title>[A-Z](?:[^\n]|\n[ \t]+(?=\S)){0,160}?\.)[ \t]*$"
        )
        match = None
        for m in head.finditer(text, pos, end):
            title = " ".join(m.group("title").split()).rstrip(".")
            expected = toc_titles[number - 1] if number <= len(toc_titles) else None
            if expected is None or fuzz.ratio(title.lower(), expected.lower()) >= 80:
                match = (m, title)
                break
        if match is None:
            break
        m, title = match
        found.append((number, m.start(), m.end(), title))
        pos, number = m.end(), number + 1
    result = []
    for i, (number, s, e, title) in enumerate(found):
        stop = found[i + 1][1] if i + 1 < len(found) else end
        result.append(Entry(f"S{number}", "section", title, _clean(text[e:stop]), span_of(s, stop)))
    return result


# --- the proxy statement -----------------------------------------------------------------


def parse_proxy(text: str) -> list[Entry]:
    """A proxy statement (no page footers): one entry per heading that has paragraphs under it."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]
    entries: list[Entry] = []
    heading = ""
    body: list[str] = []

    def flush() -> None:
        paragraphs = [p for p in body if len(p) >= 60]
        if heading and paragraphs:
            n = len(entries) + 1
            entries.append(
                Entry(f"PROXY-{n}", "proxy", heading, "\n\n".join(body), "", source="proxy")
            )

    for block in blocks:
        line = " ".join(block.split())
        is_heading = (
            "\n" not in block
            and len(line) <= 120
            and not line.endswith((".", ":", ";", ","))
            and not line.startswith(("-", "(", "•"))
            and line[:1].isupper()
            and "\t" not in block
        ) or (_is_caps(line) and len(line) <= 200 and not line.endswith("."))
        if is_heading:
            flush()
            heading, body = line, []
        else:
            body.append(line.replace("\\$", "$"))
    flush()
    return entries


def load_entries(
    offer_dir: Path, document: str = "offer.txt", secondary: tuple[str, ...] = ()
) -> list[Entry]:
    """The offer's entries, then those of its secondary documents (the proxy statement)."""
    entries = parse_offer((offer_dir / document).read_text(encoding="utf-8"))
    for name in secondary:
        path = offer_dir / name
        if path.is_file():
            entries += parse_proxy(path.read_text(encoding="utf-8"))
    return entries
