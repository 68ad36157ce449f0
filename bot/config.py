"""Settings: the only module that reads the environment.

Every variable is prefixed ``OFFERBOT_`` (Slack's own ``SLACK_*`` names are read where the
Slack issue adds them). Values are validated when the settings are built, so a bad value stops
the program at start-up with a message naming the variable instead of failing later.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.clock import parse_instant

__all__ = ["DEFAULT_DATABASE_URL", "LOCAL_ENV_FILE", "Settings"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./.offerbot/offerbot.db"
# Written by `offerbot init --demo` (the demo's simulated clock); real environment variables win.
LOCAL_ENV_FILE = Path(".offerbot/offerbot.env")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OFFERBOT_", env_file=LOCAL_ENV_FILE, extra="ignore", frozen=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy async URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://…",
    )
    now: datetime | None = Field(
        None, description="Start a simulated clock at this ISO instant (demo and staging)."
    )
    offer_dir: Path | None = Field(
        None, description="Folder holding offer.toml and the offer text; default: bundled."
    )
    demo_seed: int = Field(2003, description="Seed of the deterministic demo roster.")
    demo_employees: int = Field(600, ge=10, le=100_000)

    @field_validator("now", mode="before")
    @classmethod
    def _aware_now(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            return parse_instant(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("OFFERBOT_NOW needs a UTC offset, e.g. 2003-07-10T09:00:00-07:00")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("sqlite:///") or value.startswith("sqlite://"):
            value = value.replace("sqlite://", "sqlite+aiosqlite://", 1)
        elif value.startswith(("postgresql://", "postgres://")):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "OFFERBOT_DATABASE_URL must be sqlite+aiosqlite:///PATH or "
                "postgresql+asyncpg://USER@HOST:PORT/DB"
            )
        return value
