"""The snapshot Python starts from, shipped for the vendored Pyodide (tooling/boot_snapshot.py)."""

import gzip
import struct
from pathlib import Path

import pytest
from localwebai.tooling.boot_snapshot import (
    SNAPSHOT_MAGIC,
    SnapshotError,
    snapshot_build_id,
    snapshot_needs_jspi,
    snapshot_path,
    vendored_pyodide,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_snapshots_restore_into_the_vendored_pyodide():
    version, build_id = vendored_pyodide(REPO)
    shipped = [REPO / snapshot_path(version, jspi) for jspi in (True, False)]
    for path in shipped:
        assert path.is_file(), f"no {path.name} for Pyodide {version}: run make_boot_snapshot.py"
        assert snapshot_build_id(path) == build_id
    # those only: an older Pyodide's would be shipped (and precached) for nothing
    assert sorted(shipped[0].parent.iterdir()) == sorted(shipped)


def test_a_header_gives_its_build_id(tmp_path: Path):
    words = [0x01234567, 0x89ABCDEF] * 4
    path = tmp_path / "s.gz"
    path.write_bytes(gzip.compress(struct.pack("<4I8I", SNAPSHOT_MAGIC, 64, 2, 0, *words)))
    assert snapshot_build_id(path) == "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00" * 64, "not a gzipped snapshot"),
        (gzip.compress(b"short"), "too short"),
        (gzip.compress(b"\x00" * 64), "not a Pyodide memory snapshot"),
        (gzip.compress(b"\x00" * 64)[:12], "not a gzipped snapshot"),
    ],
    ids=["not gzip", "short", "another file", "cut off"],
)
def test_anything_else_is_refused(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "s.gz"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match=reason):
        snapshot_build_id(path)


def test_the_site_paths_of_the_two_snapshots_say_which_browsers_they_are_for():
    assert snapshot_needs_jspi("boot/pyodide-314.0.7-jspi.snapshot.gz") is True
    assert snapshot_needs_jspi("boot/pyodide-314.0.7-no-jspi.snapshot.gz") is False
    assert snapshot_needs_jspi("vendor/pyodide/pyodide.asm.wasm") is None
    assert snapshot_needs_jspi("boot/pyodide-314.0.7-jspi.snapshot.gz.bak") is None
