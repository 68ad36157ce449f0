"""The people's docs stay true: docs/configuration.md is exactly what `offerbot config-docs`
generates from ``Settings``, every setting is in it, and every relative link in README.md and
docs/*.md points to a file of this repository."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.config_docs import configuration_markdown, variable_name

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# [text](target) and ![alt](target); the target ends at whitespace or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_configuration_md_is_generated_from_settings() -> None:
    assert CONFIGURATION.read_text(encoding="utf-8") == configuration_markdown(), (
        "docs/configuration.md is out of date: run "
        "`offerbot config-docs --out docs/configuration.md`"
    )


def test_every_setting_has_a_row_with_a_description() -> None:
    text = configuration_markdown()
    for name, info in Settings.model_fields.items():
        if info.exclude:
            continue
        assert info.description, f"Settings.{name} has no Field(description=…)"
        assert f"| `{variable_name(name, info)}` |" in text


def test_config_docs_command_prints_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(app, ["config-docs"])
    assert printed.exit_code == 0, printed.output
    assert printed.output == configuration_markdown()
    target = tmp_path / "docs" / "configuration.md"
    written = runner.invoke(app, ["config-docs", "--out", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == configuration_markdown()


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return _LINK.findall(text)


def test_every_relative_link_points_to_an_existing_file() -> None:
    broken = []
    checked = 0
    for document in _documents():
        for target in _links(document):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # https:, mailto: … (none should leave the repository; see below)
            file_part = target.split("#", 1)[0]
            if not file_part:
                continue  # an anchor in the same document
            resolved = (document.parent / file_part).resolve()
            checked += 1
            if not resolved.is_relative_to(ROOT):
                broken.append(f"{document.name}: {target} leaves the repository")
            elif not resolved.exists():
                broken.append(f"{document.name}: {target} does not exist")
    assert checked > 10
    assert not broken, "\n".join(broken)


def test_readme_is_short_and_links_nothing_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    assert "../shared" not in readme
