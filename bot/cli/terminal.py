"""What ``offerbot`` prints: consoles that cannot be driven by the text they print, and JSON.

Much of what HR's commands print came from outside: employees' questions and names, roster
cells, e-mail subjects. None of it may drive HR's terminal: ``out`` and ``err`` drop every
control character (ESC and so OSC/CSI sequences, C1 controls, bidirectional overrides) from the
text they print, whatever printed it, and never print hyperlinks; :func:`print_json` escapes the
control characters JSON itself would let through; :func:`one_line` keeps a listed value on its
own line (no forged rows). Print outside text with ``markup=False`` (or escape it): a ``[/x]``
in a question must be shown, not parsed.

Only typer and rich are imported here: every command module imports this one, and
`offerbot --help` must stay fast.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import typer
from rich.console import Console, ConsoleOptions, RenderableType, RenderHook, RenderResult
from rich.segment import Segment

__all__ = ["JsonOpt", "err", "one_line", "out", "print_json", "terminal_safe"]

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the Unicode
# bidirectional embeddings, overrides and isolates that reorder what HR reads.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")


def terminal_safe(text: str) -> str:
    """``text`` without the characters that could drive a terminal (see the module docstring)."""
    return _CONTROL.sub("", text)


def one_line(text: object) -> str:
    """A value for one line of a listing: line breaks become spaces, controls are dropped."""
    return terminal_safe(_LINE_BREAKS.sub(" ", str(text)))


class _WithoutControls:
    """Renders its renderable, then drops control characters and links from the text."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            if segment.control:  # rich's own cursor movements (progress bars)
                yield segment
                continue
            style = segment.style
            if style is not None and style.link:
                style = style.update_link(None)
            yield Segment(terminal_safe(segment.text), style)


class _TerminalSafety(RenderHook):
    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_WithoutControls(r) for r in renderables]


def _terminal_console(**options: Any) -> Console:
    console = Console(highlight=False, **options)
    console.push_render_hook(_TerminalSafety())
    return console


out = _terminal_console()
err = _terminal_console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout; control characters only ever appear escaped (``\\u001b``)."""
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    # json escapes C0 controls itself; outside strings JSON is plain ASCII, so this only ever
    # rewrites characters inside strings, into escapes that decode to the same data.
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sys.stdout.write(text + "\n")
