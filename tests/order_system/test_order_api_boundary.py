"""The order API reads the indexer's state through shared modules and imports nothing of the
indexer itself (order_system.events)."""

from __future__ import annotations

import ast
from pathlib import Path

import order_system.api

API = Path(order_system.api.__file__).parent


def _imported(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_the_order_api_imports_the_indexer() -> None:
    modules = sorted(API.glob("*.py"))
    assert len(modules) > 5  # the walk found the API's modules
    offending = {
        module.name: sorted(name for name in _imported(module) if _is_indexer(name))
        for module in modules
    }
    assert {name: found for name, found in offending.items() if found} == {}


def _is_indexer(name: str) -> bool:
    return name == "order_system.events" or name.startswith("order_system.events.")
