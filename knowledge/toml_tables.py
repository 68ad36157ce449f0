"""Reading the bundled TOML data files (offer terms, demo roster spec) strictly.

A missing key is an error that names the file and the dotted key: a silent default would put a
wrong date or name in front of an employee.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

__all__ = ["TomlDataError", "read_toml", "require"]


class TomlDataError(ValueError):
    """A bundled TOML file cannot be read or lacks a key."""


def read_toml(path: Path, *, error: type[ValueError] = TomlDataError) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}") from exc


def require(
    table: dict[str, Any], dotted: str, *, file: str, error: type[ValueError] = TomlDataError
) -> Any:
    """``table["a"]["b"]`` for ``"a.b"``, or ``error`` naming ``file`` and the key."""
    node: Any = table
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise error(f"{file}: missing key {dotted!r}")
        node = node[part]
    return node
