"""The injectable clock and the settings (the only reader of the environment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.clock import ManualClock, SimulatedClock, parse_instant
from bot.config import DEFAULT_DATABASE_URL, Settings


def test_parse_instant_refuses_naive_times() -> None:
    assert parse_instant("2003-07-10T09:00:00-07:00") == datetime(2003, 7, 10, 16, tzinfo=UTC)
    assert parse_instant("2003-07-10T16:00:00Z") == datetime(2003, 7, 10, 16, tzinfo=UTC)
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_instant("2003-07-10T09:00:00")


def test_simulated_clock_advances_with_the_monotonic_source() -> None:
    ticks = iter([100.0, 100.0, 190.5])
    clock = SimulatedClock(
        parse_instant("2003-07-10T09:00:00-07:00"), monotonic=lambda: next(ticks)
    )
    assert clock.now() == datetime(2003, 7, 10, 16, tzinfo=UTC)
    assert clock.now() == datetime(2003, 7, 10, 16, 1, 30, 500000, tzinfo=UTC)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(parse_instant("2003-07-24T16:59:59-07:00"))
    assert clock.now() == clock.now()
    clock.advance(seconds=1)
    assert clock.now() == parse_instant("2003-07-24T17:00:00-07:00")
    clock.advance(timedelta(days=1))
    assert clock.now().date().isoformat() == "2003-07-26"
    with pytest.raises(ValueError):
        ManualClock(datetime(2003, 7, 24, 17))


def test_settings_defaults_and_validation(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .offerbot/offerbot.env here
    for key in ("OFFERBOT_DATABASE_URL", "OFFERBOT_NOW", "OFFERBOT_OFFER_DIR"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.now is None

    monkeypatch.setenv("OFFERBOT_NOW", "2003-07-10T09:00:00-07:00")
    monkeypatch.setenv("OFFERBOT_DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/db")
    settings = Settings()
    assert settings.now == parse_instant("2003-07-10T09:00:00-07:00")
    assert settings.database_url == "postgresql+asyncpg://u:p@127.0.0.1:5432/db"

    monkeypatch.setenv("OFFERBOT_NOW", "2003-07-10T09:00:00")
    with pytest.raises(ValidationError, match="offset"):
        Settings()
    monkeypatch.setenv("OFFERBOT_NOW", "")
    monkeypatch.setenv("OFFERBOT_DATABASE_URL", "mysql://x")
    with pytest.raises(ValidationError, match="OFFERBOT_DATABASE_URL"):
        Settings()


def test_local_env_file_is_read_but_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OFFERBOT_NOW", raising=False)
    (tmp_path / ".offerbot").mkdir()
    (tmp_path / ".offerbot" / "offerbot.env").write_text("OFFERBOT_NOW=2003-07-10T09:00:00-07:00\n")
    assert Settings().now == parse_instant("2003-07-10T09:00:00-07:00")
    monkeypatch.setenv("OFFERBOT_NOW", "2003-07-20T09:00:00-07:00")
    assert Settings().now == parse_instant("2003-07-20T09:00:00-07:00")


def test_anchored_now_is_shared_between_processes_and_never_shifts_an_env_now(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.clock import AnchoredClock, SimulatedClock
    from bot.runtime.bootstrap import build_clock

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OFFERBOT_NOW", raising=False)
    anchor = datetime.now(UTC) - timedelta(minutes=30)
    (tmp_path / ".offerbot").mkdir()
    (tmp_path / ".offerbot" / "offerbot.env").write_text(
        f"OFFERBOT_NOW=2003-07-10T09:00:00-07:00@{anchor.isoformat()}\n"
    )
    settings = Settings()
    assert settings.now == parse_instant("2003-07-10T09:00:00-07:00")
    assert settings.now_anchor == anchor
    clock = build_clock(settings)
    assert isinstance(clock, AnchoredClock)
    # 30 real minutes after the anchor: every process built from this file agrees.
    elapsed = clock.now() - parse_instant("2003-07-10T09:00:00-07:00")
    assert timedelta(minutes=30) <= elapsed < timedelta(minutes=31)
    monkeypatch.setenv("OFFERBOT_NOW", "2003-07-20T09:00:00-07:00")
    plain = Settings()
    assert plain.now_anchor is None and isinstance(build_clock(plain), SimulatedClock)
