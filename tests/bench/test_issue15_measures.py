"""The issue-15 measures at tiny sizes on SQLite: each produces its rows with real values (the
figures themselves are for bench/RESULTS.md, not checked here)."""

from __future__ import annotations

from pathlib import Path

from bench import ask_start, respond, serve_round
from bench.run import PLUGINS, _plugin


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'offerbot.db'}"


def test_bench_run_reports_the_answer_path_and_the_round_in_serve() -> None:
    assert {"respond", "serve_round"} <= set(PLUGINS)
    assert _plugin("respond") is respond.measure
    assert _plugin("serve_round") is serve_round.measure
    assert _plugin("ask_start") is ask_start.measure


def test_a_fresh_offerbot_ask_is_timed_on_the_demo(tmp_path: Path) -> None:
    times = ask_start.ask_times(1, db_url=_sqlite(tmp_path))
    assert "The offer expires at 5:00 p.m. PDT on Thursday, July 24, 2003" in times.answer
    assert len(times.wall_s) == len(times.cpu_s) == 1
    assert times.cpu_s[0] > 0 and times.wall_s[0] > 0
    assert "1 runs of `" in times.summary()


async def test_the_answer_path_against_the_answer_alone(tmp_path: Path) -> None:
    timings = await respond.respond_times(_sqlite(tmp_path), rounds=1, verified=False)
    assert timings.questions == len(respond.QUESTIONS)
    assert 0 < timings.answer_p50_ms < timings.respond_p50_ms
    rows = await respond.measure(_sqlite(tmp_path), True)
    overhead = [r for r in rows if r["measure"].startswith("respond − answer alone")]
    assert len(overhead) == 2 and all(r["target"] == "≤ 1 ms" for r in overhead)
    assert all(r["value"] is not None for r in rows)


async def test_a_round_inside_offerbot_serve_is_queued_and_its_memory_read(
    tmp_path: Path,
) -> None:
    result = await serve_round.round_in_serve(_sqlite(tmp_path), employees=300)
    assert result.queued > 300  # an e-mail and, for most, a Slack copy per eligible person
    assert result.seconds > 0
    assert result.idle_mb > 50 and result.rss_max_mb >= result.idle_mb * 0.9
    # VmHWM is the peak, but Linux folds each thread's cached RSS counters into it lazily, so a
    # VmRSS read can run a few pages ahead of it (4 KiB once in CI): a page or so of slack.
    assert result.peak_mb >= result.rss_max_mb - 1
