"""The code base stays typed and linted: the suite fails when ruff or mypy would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Each of these folders has its own conftest.py, which mypy cannot check in one run.
TEST_FOLDERS = ["tests/api_server", "tests/exchange_sim", "tests/data_collector",
                "tests/order_system"]  # fmt: skip


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_to_fix() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


def test_every_file_is_formatted() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.parametrize("target", ["sources", *TEST_FOLDERS])
def test_mypy_strict_passes(target: str, tmp_path: Path) -> None:
    paths = [] if target == "sources" else [target]
    result = _run(str(BIN / "mypy"), "--cache-dir", str(tmp_path), *paths)
    assert result.returncode == 0, result.stdout[-4000:]
