"""`offerbot hr suggestions` at the edge: bad input is one line on standard error, not a
traceback (in this process, :mod:`tests.cli.runner`)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import offerbot


def test_an_unknown_status_is_one_clear_line_and_touches_no_database(tmp_path: Path) -> None:
    ran = offerbot(tmp_path, "hr", "suggestions", "list", "--status", "nope", check=False)
    assert ran.returncode == 1
    assert ran.stderr.strip() == "error: --status is pending, accepted or rejected."
    assert "Traceback" not in ran.stderr + ran.stdout
    as_json = offerbot(
        tmp_path, "hr", "suggestions", "list", "--status", "nope", "--json", check=False
    )
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"] == "--status is pending, accepted or rejected."
    assert list(tmp_path.iterdir()) == []  # nothing was created on the way to the refusal
