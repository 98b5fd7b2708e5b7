"""Registers the checkout as the package ``labelguard`` whatever its folder is called."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if "labelguard" not in sys.modules:
    spec = importlib.util.spec_from_file_location(
        "labelguard", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    assert spec is not None and spec.loader is not None
    sys.modules["labelguard"] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
