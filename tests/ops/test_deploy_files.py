"""The files in deploy/ stay in step with the code: every setting is documented in
.env.example, compose.yaml wires PostgreSQL's health check and volume, the Dockerfile and the
systemd unit run as a non-root user. (Docker itself is not run here.)"""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

import yaml

from bot.config import Settings
from bot.runtime.doctor import env_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
_LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


def listed_names(text: str) -> list[str]:
    """Variables set or shown commented out (``# NAME=example``) in an env file."""
    return [m.group(1) for line in text.splitlines() if (m := _LISTED.match(line.strip()))]


def test_env_example_lists_every_setting() -> None:
    listed = set(listed_names((DEPLOY / ".env.example").read_text()))
    names = env_names()
    missing = sorted(
        f"{env} (Settings.{field})" for field, env in names.items() if env not in listed
    )
    assert not missing, (
        "deploy/.env.example does not list these settings of bot/config.py; add each with a "
        "comment line above it:\n  " + "\n  ".join(missing)
    )
    unknown = sorted(n for n in listed if n not in names.values() and n != "POSTGRES_PASSWORD")
    assert not unknown, f"deploy/.env.example lists variables Settings does not read: {unknown}"


def test_env_example_comments_every_setting() -> None:
    """Each variable, or the group of variables it is listed with, has a comment line above."""
    lines = [line.strip() for line in (DEPLOY / ".env.example").read_text().splitlines()]
    for i, line in enumerate(lines):
        m = _LISTED.match(line)
        if m is None:
            continue
        above = i - 1
        while above >= 0 and _LISTED.match(lines[above]):
            above -= 1
        comment = lines[above] if above >= 0 else ""
        assert comment.startswith("#") and len(comment) > 2, (
            f"{m.group(1)} in deploy/.env.example has no comment above it"
        )


def test_env_example_loads_as_settings(tmp_path: Path) -> None:
    """The active (uncommented) lines are valid settings as they stand."""
    settings = Settings(_env_file=DEPLOY / ".env.example")  # type: ignore[call-arg]
    assert settings.database_url == "sqlite+aiosqlite:////var/lib/offerbot/offerbot.db"


def test_the_old_env_example_is_gone_and_not_referenced() -> None:
    assert not (DEPLOY / "offerbot.env.example").exists()
    tracked = subprocess.run(
        ["git", "grep", "-l", "offerbot.env.example", "--", ".", ":!tests/ops"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert tracked.stdout == "", tracked.stdout


def test_compose_has_postgres_with_healthcheck_and_volume() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    db = services["db"]
    assert db["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    (volume,) = db["volumes"]
    assert volume.split(":")[0] in compose["volumes"]
    assert volume.endswith(":/var/lib/postgresql/data")

    migrate, bot = services["migrate"], services["offerbot"]
    assert migrate["command"] == ["offerbot", "db", "upgrade"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["command"][:2] == ["offerbot", "serve"]
    for service in (migrate, bot):
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["env_file"] == ".env"
        url = service["environment"]["OFFERBOT_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://offerbot:") and url.endswith(
            "@db:5432/offerbot"
        )


def test_dockerfile_is_slim_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms and all(f == "python:3.11-slim" for f in froms)
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, flags=re.M | re.S)
    assert healthcheck is not None
    assert "urllib.request" in healthcheck.group(1)
    assert "http://127.0.0.1:3000/healthz" in healthcheck.group(1)
    # every folder the package is built from is copied (see [tool.setuptools.packages.find])
    for folder in ("bot", "handlers", "knowledge", "storage"):
        assert re.search(rf"^COPY {folder} ", text, flags=re.M), folder


def test_systemd_unit_runs_hardened_as_a_user() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "offerbot.service").read_text())
    service = unit["Service"]
    assert service["User"] == "offerbot"
    assert service["EnvironmentFile"] == "/etc/offerbot/offerbot.env"
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ExecStart"].endswith("offerbot serve --port 3000")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
