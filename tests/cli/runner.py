"""Run `offerbot ARGS` inside the test process: typer's CliRunner over the real `bot.cli.app`.

Every command goes through the same code as the console script (argument parsing, the
logging callback, ``bot.cli.running.run``'s error edge, the SQLite file in the working folder,
``.offerbot/offerbot.env``), minus the 1–2 s a fresh interpreter spends importing. What a
process would have had to itself is set up and put back around each call:

* the working folder (``contextlib.chdir``), since settings and the demo files are relative;
* the environment: every ``OFFERBOT_*`` and ``SLACK_*`` variable of the test run is removed,
  then ``env`` is applied — as the subprocess tests did with a clean ``env=``;
* terminal width 160 (``COLUMNS=160`` before), so long lines are not wrapped;
* the logging set-up the command installs on the root logger.

A command that raises anything but ``SystemExit`` is a bug: the exception is re-raised here
with its traceback rather than turned into an exit status. ``tests/cli/test_console_script.py``
keeps a few checks on the real console script in a real process.

Commands run one at a time (a lock), so an async test may call :func:`offerbot` through
``asyncio.to_thread`` while its own servers (aiosmtpd) keep running on the test loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.cli.terminal import err, out
from bot.runtime.logging_setup import OWN_PACKAGES, QUIET_LOGGERS

__all__ = ["Ran", "offerbot"]

_ONE_AT_A_TIME = threading.Lock()
WIDTH = 160


@dataclass(frozen=True)
class Ran:
    """What a finished command left: like ``subprocess.CompletedProcess`` with text output."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def offerbot(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> Ran:
    """`offerbot ARGS` in ``cwd`` with ``env`` added to a clean environment; ``check`` fails the
    test on a non-zero exit status, showing both streams."""
    overrides: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("OFFERBOT_", "SLACK_"))
    }
    overrides.update(env or {})
    with _ONE_AT_A_TIME, contextlib.chdir(cwd), _wide_consoles(), _logging_put_back():
        result = CliRunner().invoke(app, list(args), input=stdin, env=overrides)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    ran = Ran(tuple(args), result.exit_code, result.stdout, result.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"offerbot {' '.join(args)} failed:\n{ran.stdout}\n{ran.stderr}")
    return ran


@contextlib.contextmanager
def _wide_consoles() -> Iterator[None]:
    saved = [(console, console._width) for console in (out, err)]
    for console, _ in saved:
        console.width = WIDTH
    try:
        yield
    finally:
        for console, width in saved:
            console._width = width


@contextlib.contextmanager
def _logging_put_back() -> Iterator[None]:
    """The root logger's handlers and the levels the command's logging set-up changes."""
    root = logging.getLogger()
    names = (*OWN_PACKAGES, *QUIET_LOGGERS)
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
