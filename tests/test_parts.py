"""Model files shipped in pieces: joined in order, checked against a pinned hash, never half-written."""

from __future__ import annotations

import hashlib

import pytest

from ragchat.errors import ModelError
from ragchat.parts import joined


def _parts(tmp_path, *pieces: bytes):
    paths = []
    for i, piece in enumerate(pieces):
        path = tmp_path / f"part{i}"
        path.write_bytes(piece)
        paths.append(path)
    return paths


def test_parts_are_joined_in_order_once(tmp_path):
    parts = _parts(tmp_path, b"abc" * 1000, b"", b"xyz")
    sha = hashlib.sha256(b"abc" * 1000 + b"xyz").hexdigest()
    target = tmp_path / "cache" / "model.bin"
    assert joined(parts, target, sha, "reinstall it") == target
    assert target.read_bytes() == b"abc" * 1000 + b"xyz"
    # Made once: a target whose recorded hash matches is reused without reading any part.
    assert joined((tmp_path / "gone" for _ in range(3)), target, sha, "reinstall it") == target


def test_parts_that_do_not_add_up_leave_nothing_behind(tmp_path):
    parts = _parts(tmp_path, b"abc", b"xyz")
    target = tmp_path / "model.bin"
    with pytest.raises(ModelError, match="sha256 mismatch.*pip install x==1"):
        joined(parts, target, hashlib.sha256(b"something else").hexdigest(), "pip install x==1")
    assert not target.exists() and not list(tmp_path.glob(".model.bin.*"))


def test_a_part_that_vanishes_midway_leaves_no_half_file(tmp_path):
    parts = _parts(tmp_path, b"abc") + [tmp_path / "missing"]
    target = tmp_path / "model.bin"
    with pytest.raises(FileNotFoundError):
        joined(parts, target, hashlib.sha256(b"abc").hexdigest(), "reinstall it")
    assert not target.exists() and not list(tmp_path.glob(".model.bin.*"))
