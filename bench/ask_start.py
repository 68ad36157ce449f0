"""``offerbot ask "when is the deadline"`` as a person runs it: a fresh process each time, Python's
own start included (issue 15's target: ≤ 0.8 s on the 2-core machine).

    python3 bench/ask_start.py [--runs 10] [--form script|module]

In a temporary folder: ``offerbot init --demo``, one question that fills the caches a first
question fills on any installation (the knowledge snapshot, the tokenizer's known pieces, the
holiday table), then ``--runs`` timed questions: wall time around each process, its CPU time
(user + system, from the children's rusage) and the load average. ``--form script`` runs the
``offerbot`` console script installed beside this Python (the code of this checkout, through
``PYTHONPATH``), ``module`` runs ``python -m bot``. Bytecode is written as an installed package
has it (``PYTHONDONTWRITEBYTECODE`` is dropped). As a ``bench/run.py`` plug-in the database is
the fresh one given, and the questions run the console script.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

from bench.table import Row, row

__all__ = ["QUESTION", "TARGET_S", "AskTimes", "ask_times", "measure"]

QUESTION = "when is the deadline"
TARGET_S = 0.8
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class AskTimes:
    wall_s: list[float]
    cpu_s: list[float]
    load: tuple[float, float]  # 1-minute load average before and after
    answer: str  # what the last question printed
    command: str

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    def summary(self) -> str:
        return (
            f"{len(self.wall_s)} runs of `{self.command}`: wall min {min(self.wall_s):.2f} / "
            f"median {self.median_s:.2f} / max {max(self.wall_s):.2f} s, CPU median "
            f"{statistics.median(self.cpu_s):.2f} s, load average {self.load[0]:.1f} → "
            f"{self.load[1]:.1f} on {os.cpu_count()} CPUs"
        )


def _command(form: str) -> list[str]:
    script = Path(sys.executable).with_name("offerbot")
    if form == "script" and script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "bot"]


def ask_times(runs: int, *, form: str = "script", db_url: str | None = None) -> AskTimes:
    """Time ``runs`` fresh ``offerbot ask`` processes on a demo database (see the module)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    for name in list(env):
        if name.startswith("OFFERBOT_"):
            del env[name]
    if db_url is not None:
        env["OFFERBOT_DATABASE_URL"] = db_url
    command = _command(form)
    with tempfile.TemporaryDirectory(prefix="offerbot-ask-") as folder:

        def offerbot(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*command, *args], cwd=folder, env=env, capture_output=True, text=True, check=True
            )

        offerbot("init", "--demo")
        offerbot("ask", QUESTION)  # the first question of an installation fills its caches
        wall, cpu = [], []
        load_before = os.getloadavg()[0]
        answer = ""
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            answer = offerbot("ask", QUESTION).stdout
            wall.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        load_after = os.getloadavg()[0]
    shown = "offerbot" if command[0].endswith("offerbot") else "python -m bot"
    return AskTimes(wall, cpu, (load_before, load_after), answer, f'{shown} ask "{QUESTION}"')


async def measure(db_url: str, quick: bool) -> list[Row]:
    """bench/run.py's row: the median wall time of a fresh `offerbot ask`, against 0.8 s."""
    db = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    times = await asyncio.to_thread(ask_times, 3 if quick else 10, db_url=db_url)
    return [
        row(
            'offerbot ask "when is the deadline", fresh process, median',
            db=db,
            value=times.median_s,
            unit="s",
            at_most=TARGET_S,
            note=times.summary(),
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--form", choices=("script", "module"), default="script")
    args = parser.parse_args()
    print(ask_times(args.runs, form=args.form).summary())
