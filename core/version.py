"""The plugin's own version, read from metadata.txt (its single source)."""

from __future__ import annotations

import configparser
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def plugin_version() -> str:
    """``version`` from metadata.txt, "0" when the file is absent (e.g. a bare core install)."""
    parser = configparser.ConfigParser()
    parser.read(Path(__file__).resolve().parents[1] / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="0")


def generator() -> str:
    """How LabelGuard names itself in sidecars and manifests: "LabelGuard <version>"."""
    return f"LabelGuard {plugin_version()}"
