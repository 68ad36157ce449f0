"""The logging set-up and the command share one ``Settings()`` when nothing it reads changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from bot.cli.running import load_settings, settings_if_valid
from bot.config import LOCAL_ENV_FILE


def test_the_same_inputs_give_the_same_settings_and_any_change_builds_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OFFERBOT_DEMO_SEED", "7")
    first = settings_if_valid()
    assert first is not None and first.demo_seed == 7
    assert load_settings() is first  # what the command gets after the logging set-up
    monkeypatch.setenv("OFFERBOT_DEMO_SEED", "8")
    assert load_settings().demo_seed == 8
    monkeypatch.delenv("OFFERBOT_DEMO_SEED")
    LOCAL_ENV_FILE.parent.mkdir()
    LOCAL_ENV_FILE.write_text("OFFERBOT_DEMO_SEED=9\n")
    assert load_settings().demo_seed == 9
    LOCAL_ENV_FILE.write_text("OFFERBOT_DEMO_SEED=5\n")  # same size, rewritten at once
    assert load_settings().demo_seed == 5
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)  # the env file is read from the working folder
    assert load_settings().demo_seed == 2003


def test_invalid_settings_are_not_kept_and_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OFFERBOT_DEMO_EMPLOYEES", "3")  # below the minimum of 10
    assert settings_if_valid() is None
    with pytest.raises(typer.Exit) as exited:
        load_settings()
    assert exited.value.exit_code == 2
