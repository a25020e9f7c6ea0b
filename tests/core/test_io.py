"""Tests for explorer.core._io: file digests, atomic writes and seeded blocks."""

import pytest
import torch

from explorer.core._io import atomic_write, file_digest, seeded


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert file_digest(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_atomic_write_replaces_the_file_only_when_all_went_well(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    with atomic_write(path) as f:
        f.write(b"first")
    assert path.read_bytes() == b"first" and oct(path.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == b"first"

    def refuse(tmp):
        assert tmp.read_bytes() == b"bad" and tmp != path
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"), atomic_write(path, check=refuse) as f:
        f.write(b"bad")
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.bin"]  # no temporary file left


def test_seeded_blocks_repeat_and_leave_the_global_generator_alone():
    before = torch.random.get_rng_state()
    with seeded(3):
        a = torch.rand(4)
    with seeded(3):
        b = torch.rand(4)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), before)
