"""The real console script in real processes: the few checks the in-process tests cannot make.

* the ``offerbot`` entry point declared in pyproject.toml loads and runs;
* start-up stays light: `offerbot --help` imports no database, PDF or numeric library, and
  `offerbot ask` loads the router with numpy only — no scikit-learn, scipy, fpdf or Alembic
  (read from ``python -X importtime``, which lists every module a process imported);
* before `offerbot init`, a real process prints one line on stderr and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEVER_FOR_HELP = {
    "sqlalchemy", "alembic", "fpdf", "fontTools", "PIL", "numpy", "sklearn", "scipy",
    "slack_bolt", "aiohttp", "jinja2", "asyncpg", "aiosqlite", "prometheus_client", "holidays",
}  # fmt: skip
NEVER_FOR_ASK = {"sklearn", "scipy", "fpdf", "fontTools", "PIL", "alembic", "slack_bolt"}


def _run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERBOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "160"
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _imported(importtime_stderr: str) -> set[str]:
    """Top-level packages a process imported, from ``-X importtime``'s report on stderr."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_the_entry_point_runs(tmp_path: Path) -> None:
    call = (
        "import sys; from importlib.metadata import entry_points; "
        "(script,) = entry_points(group='console_scripts', name='offerbot'); "
        "assert script.value == 'bot.cli:main', script.value; "
        "sys.argv[0] = 'offerbot'; script.load()()"
    )
    ran = _run(tmp_path, "-c", call, "--help")
    assert ran.returncode == 0, ran.stderr
    for command in ("init", "ask", "grants", "deadlines", "status", "hr", "worker", "serve"):
        assert f" {command} " in ran.stdout


def test_help_imports_no_database_pdf_or_numeric_library(tmp_path: Path) -> None:
    ran = _run(tmp_path, "-X", "importtime", "-m", "bot", "--help")
    assert ran.returncode == 0
    imported = _imported(ran.stderr)
    assert "bot" in imported and "typer" in imported  # the report was read
    assert not imported & NEVER_FOR_HELP


def test_ask_answers_with_numpy_only(demo_copy: Callable[[str], Path]) -> None:
    cwd = demo_copy("ask-process")
    ran = _run(cwd, "-X", "importtime", "-m", "bot", "ask", "how do i tender my options", "--json")
    assert ran.returncode == 0, ran.stderr[-2000:]
    answer = json.loads(ran.stdout)
    assert answer["intent"] == "faq" and answer["sources"][0]["id"] == "Q21"
    imported = _imported(ran.stderr)
    assert {"numpy", "sqlalchemy"} <= imported
    assert not imported & NEVER_FOR_ASK


def test_before_init_a_real_process_prints_one_line(tmp_path: Path) -> None:
    ran = _run(tmp_path, "-m", "bot", "hr", "report")
    assert ran.returncode == 1 and ran.stdout == ""
    assert len(ran.stderr.splitlines()) == 1, ran.stderr  # no traceback, no log lines
    assert ran.stderr.endswith("run `offerbot init` first.\n")


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    """`import bot.cli` is what every command pays before it runs: no database, PDF, numeric,
    Slack, web or holiday-table library (each command imports what it needs when it runs)."""
    listing = "import sys, bot.cli; print(*sorted({m.split('.')[0] for m in sys.modules}))"
    ran = _run(tmp_path, "-c", listing)
    assert ran.returncode == 0, ran.stderr
    loaded = set(ran.stdout.split())
    assert {"bot", "typer"} <= loaded  # the listing was read
    assert not loaded & NEVER_FOR_HELP, sorted(loaded & NEVER_FOR_HELP)
