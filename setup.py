"""The package version for pip, read from metadata.txt (the plugin's single source)."""

from __future__ import annotations

import configparser
from pathlib import Path

from setuptools import setup

_meta = configparser.ConfigParser()
_meta.read(Path(__file__).resolve().parent / "metadata.txt", encoding="utf-8")
setup(version=_meta.get("general", "version"))
