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
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_NOW = "2003-07-10T09:00:00-07:00"  # a fixed clock: the "time left" of two runs is the same
NEVER_FOR_HELP = {
    "sqlalchemy", "alembic", "fpdf", "fontTools", "PIL", "numpy", "sklearn", "scipy",
    "slack_bolt", "aiohttp", "jinja2", "asyncpg", "aiosqlite", "prometheus_client", "holidays",
}  # fmt: skip
NEVER_FOR_ASK = {"sklearn", "scipy", "fpdf", "fontTools", "PIL", "alembic", "slack_bolt"}
# a question that opens no transaction (storage/deferred.py) loads no database library either
NEVER_FOR_A_PLAIN_QUESTION = NEVER_FOR_ASK | {"sqlalchemy", "aiosqlite", "asyncpg"}


def _run(
    cwd: Path, *argv: str, home: Path | None = None, now: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERBOT_")}
    if home is not None:
        env["HOME"] = str(home)
    if now is not None:
        env["OFFERBOT_NOW"] = now
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
    assert "numpy" in imported
    assert not imported & NEVER_FOR_A_PLAIN_QUESTION, sorted(imported & NEVER_FOR_A_PLAIN_QUESTION)

    # one that writes (an abstention filed for HR) opens the database as before
    ran = _run(cwd, "-X", "importtime", "-m", "bot", "ask", "xyzzy plugh frobnicate", "--json")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert json.loads(ran.stdout)["abstained"] is True
    imported = _imported(ran.stderr)
    assert "sqlalchemy" in imported and not imported & NEVER_FOR_ASK


def test_a_fresh_process_answers_the_same_from_the_knowledge_snapshot(
    demo_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """The first process parses the offer and writes the snapshot (knowledge/snapshot.py); the
    next ones load it. Every answer, as text and as JSON, personal or not, is the same bytes.
    HOME is a folder of this test's, holding only the trained router, copied."""
    from knowledge.answerer import default_cache_dir, knowledge_base
    from knowledge.offer_terms import bundled_offer_dir
    from knowledge.training import router_path

    trained = router_path(default_cache_dir(), knowledge_base(bundled_offer_dir()).router.key)
    cache = tmp_path / "home" / ".cache" / "offerbot"
    cache.mkdir(parents=True)
    shutil.copy2(trained, cache / trained.name)
    cwd = demo_copy("snapshot-process")
    asks = [
        ("when is the deadline",),
        ("can I fax my election form?", "--json"),
        ("which of my grants are eligible", "--as", "E1001"),
        ("should I tender?", "--json"),
    ]

    def answers() -> list[str]:
        out = []
        for argv in asks:
            ran = _run(cwd, "-m", "bot", "ask", *argv, home=tmp_path / "home", now=_NOW)
            assert ran.returncode == 0, ran.stderr[-2000:]
            out.append(ran.stdout)
        return out

    first = answers()  # the first question builds and writes the snapshot
    (snapshot,) = cache.glob("kb-*.json")
    written = snapshot.stat().st_mtime_ns
    assert answers() == first
    assert snapshot.stat().st_mtime_ns == written  # read, not rebuilt
    # from then on a question loads neither the tokenizer (its known pieces are cached beside
    # the router), nor the holidays package (the offer's years are in a table), nor the
    # training code
    ran = _run(cwd, "-X", "importtime", "-m", "bot", "ask", "when is the deadline",
               home=tmp_path / "home", now=_NOW)  # fmt: skip
    assert ran.returncode == 0 and ran.stdout == first[0], ran.stderr[-2000:]
    imported = _imported(ran.stderr)
    assert "numpy" in imported  # the report was read
    assert not imported & {"tokenizers", "holidays"}, sorted(imported & {"tokenizers", "holidays"})
    loaded = {line.rsplit("|", 1)[-1].strip() for line in ran.stderr.splitlines() if "|" in line}
    assert not loaded & {
        "knowledge.training",  # the router comes from its cache file
        "knowledge.fitting",
        "bot.domain.slack_records",
        "bot.services.elections.intents",  # a question records nothing
        "pythonjsonlogger",  # text logs
        "rapidfuzz",  # every word of the question is known: no fuzzy match
    }
    assert "5:00 p.m. PDT on Thursday, July 24, 2003" in first[0]
    assert json.loads(first[1])["sources"]


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
