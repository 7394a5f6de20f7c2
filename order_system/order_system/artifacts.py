"""Compiled contract artifacts: `order_system/build/<Name>.json`, written by compile.mjs."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORDER_SYSTEM_DIR = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ORDER_SYSTEM_DIR / "contracts"
ARTIFACTS_DIR = ORDER_SYSTEM_DIR / "build"
COMPILE_SCRIPT = ORDER_SYSTEM_DIR / "compile.mjs"


class ArtifactError(RuntimeError):
    """An artifact is missing or unreadable, or compiling the contracts failed."""


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str = ""  # the runtime code (what a state override installs)


def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{path} not found: compile the contracts with `node {COMPILE_SCRIPT}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is unreadable: {exc}") from exc
    bytecode = data.get("bytecode")
    if not isinstance(bytecode, str) or not isinstance(data.get("abi"), list):
        raise ArtifactError(f"{path} lacks `abi` or `bytecode`")
    deployed = data.get("deployedBytecode")
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=bytecode,
        deployed_bytecode=deployed if isinstance(deployed, str) else "",
    )


def is_stale(directory: Path = ARTIFACTS_DIR, sources: Path = CONTRACTS_DIR) -> bool:
    """True when an artifact is missing or older than some Solidity source."""
    artifacts = list(directory.glob("*.json"))
    if not artifacts:
        return True
    oldest = min(path.stat().st_mtime for path in artifacts)
    return any(source.stat().st_mtime > oldest for source in sources.glob("*.sol"))


def compile_contracts(node: str = "node") -> None:
    """Run compile.mjs (solc-js, offline); raises ArtifactError with its output on failure."""
    try:
        result = subprocess.run(
            [node, str(COMPILE_SCRIPT)],
            cwd=ORDER_SYSTEM_DIR.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ArtifactError(f"cannot run {node} to compile the contracts: {exc}") from exc
    if result.returncode != 0:
        raise ArtifactError(f"compiling contracts failed:\n{result.stdout}{result.stderr}")


def ensure_compiled() -> None:
    """Compile when an artifact is missing or older than the sources."""
    if is_stale():
        compile_contracts()
