"""Fixtures of the command-line tests: one `offerbot init --demo` per run, copied where needed.

`demo_template` is the demo roster in a SQLite file, made once per test session by the real
`init --demo` (in-process, :mod:`tests.cli.runner`). A test module that reads and writes its
own scenario takes a copy (`demo_copy`), so no test sees another module's intents.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli.runner import offerbot


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder `offerbot init --demo` leaves (database, demo CSVs, simulated clock)."""
    cwd = tmp_path_factory.mktemp("demo-template")
    offerbot(cwd, "init", "--demo", "--json")
    return cwd


@pytest.fixture(scope="session")
def demo_copy(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """A fresh copy of the demo folder, named after its user, its simulated clock started again
    at the demo's 09:00 (as a new `init --demo` would)."""

    def copy(name: str) -> Path:
        target = tmp_path_factory.mktemp(name) / "demo"
        shutil.copytree(demo_template, target)
        env_file = target / ".offerbot" / "offerbot.env"
        anchor = datetime.now(UTC).isoformat(timespec="seconds")
        text = re.sub(
            r"^(OFFERBOT_NOW=[^@\n]+)@.*$", rf"\1@{anchor}", env_file.read_text(), flags=re.M
        )
        env_file.write_text(text)
        return target

    return copy
