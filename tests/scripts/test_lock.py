"""The lock files hold every dependency pyproject.toml names, pinned inside its range, hashed,
and the image and CI install from them (``bash scripts/lock`` regenerates them).

Read with ``packaging`` (the parser pip itself uses); markers are evaluated for the Python and
platform that run this test, which is the one CI installs for.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
TEST = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]

# "name==version ; marker \" then "    --hash=sha256:..." lines (pip's requirements format)
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?: ; (?P<marker>[^\\]+))?"
)


def _pins(name: str) -> dict[str, Version]:
    """The version pinned for each package whose marker applies here, and check every pin is
    followed by at least one sha256 hash."""
    pins: dict[str, Version] = {}
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = _PIN.match(line)
        if match is None:
            continue
        hashes = []
        for following in lines[number + 1 :]:
            if not following.startswith("    --hash="):
                break
            hashes.append(following)
        assert hashes and all(h.strip().startswith("--hash=sha256:") for h in hashes), line
        marker = match.group("marker")
        if marker is None or Marker(marker.strip()).evaluate():
            pins[canonicalize_name(match.group("name"))] = Version(match.group("version"))
    return pins


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [("requirements.lock", RUNTIME), ("requirements-test.lock", RUNTIME + TEST)],
    ids=["runtime", "test"],
)
def test_every_pyproject_dependency_is_pinned_inside_its_range(
    lock: str, wanted: list[Requirement]
) -> None:
    pins = _pins(lock)
    missing = [str(r) for r in wanted if canonicalize_name(r.name) not in pins]
    assert not missing, f"not in {lock} (run `bash scripts/lock`): {missing}"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)]})"
        for r in wanted
        if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert not outside, (
        f"{lock} pins outside pyproject's range (run `bash scripts/lock`): {outside}"
    )


def test_the_image_and_ci_run_the_same_versions() -> None:
    runtime, test = _pins("requirements.lock"), _pins("requirements-test.lock")
    assert {name: test.get(name) for name in runtime} == runtime


def test_the_image_and_ci_install_from_the_locks() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"pip install --require-hashes -r requirements\.lock", dockerfile)
    assert re.search(r"pip install --no-deps \.", dockerfile)
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert re.search(r"--require-hashes \\\n\s+-r requirements-test\.lock", script)
    assert "--no-deps -e ." in script
