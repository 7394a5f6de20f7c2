"""The local Hardhat node's launch settings reach the node, natively and in its image."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devstack.hardhat import NODE_ALLOCATOR_ENV, HardhatNode

ROOT = Path(__file__).resolve().parents[2]


def stage_env(dockerfile: str, stage: str) -> dict[str, str]:
    """The `ENV name=value` settings of one build stage (up to the next FROM)."""
    match = re.search(rf"^FROM \S+ AS {stage}\n(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S)
    assert match, f"no stage {stage}"
    return dict(re.findall(r"^ENV (\w+)=(\S+)$", match.group(1), re.M))


def test_the_hardhat_image_keeps_the_allocator_settings_of_the_native_node() -> None:
    image = stage_env((ROOT / "Dockerfile").read_text(), "hardhat")
    assert NODE_ALLOCATOR_ENV.items() <= image.items()


def test_stage_env_reads_only_its_own_stage() -> None:
    text = "FROM a AS one\nENV X=1\nFROM b AS two\nENV Y=2\n"
    assert stage_env(text, "one") == {"X": "1"}
    assert stage_env(text, "two") == {"Y": "2"}


def test_the_node_allocator_takes_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mimalloc, in verbose mode, prints each option as it took it: a renamed option or another
    allocator in a later Hardhat would show here, not as a silent slowdown."""
    monkeypatch.setenv("MIMALLOC_VERBOSE", "1")
    log = tmp_path / "node.log"
    with HardhatNode(log):
        printed = log.read_text(errors="replace")
    for name, value in NODE_ALLOCATOR_ENV.items():
        option = name.removeprefix("MIMALLOC_").lower()
        assert re.search(rf"mimalloc: option '{option}': {re.escape(value)}\b", printed), (
            f"the node's allocator did not take {name}={value}"
        )
