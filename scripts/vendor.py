"""Vendor the browser runtime (wllama + its compat build, Pyodide + micropip, PyScript); verify it.

    python scripts/vendor.py           # re-create every vendored file from the registries
    python scripts/vendor.py --check   # verify the files against vendor.lock.json, offline

Re-creating uses only the ordinary registry clients (`npm pack`, `pip download`) in a temporary
folder, copies the files we serve into `web/vendor/` and `wasm/`, patches Pyodide's
`pyodide-lock.json` so that the micropip wheel we ship passes Pyodide's integrity check, and
writes `vendor.lock.json`: per package its registry, version, SPDX licence and archive integrity,
per file its repo path, the path inside the package, sha256 and size (and, for a patched file,
the upstream hash and the reason).

Checking needs no network: every file the lock lists must exist with the recorded sha256 and
size, no unlisted file may sit under `web/vendor/`, and the vendored `pyodide-lock.json` must
name the vendored micropip wheel with its real sha256. Python stdlib only.

A new Pyodide also needs new start-up snapshots: run `scripts/make_boot_snapshot.py` after it
(`tests/unit/test_boot_snapshot.py` fails until then).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from common import sha256_file

# ---------------------------------------------------------------------------------------------
# Pinned versions and what we take from each package.
# ---------------------------------------------------------------------------------------------

WLLAMA_VERSION = "3.8.1"
PYODIDE_VERSION = "314.0.7"
PYSCRIPT_VERSION = "0.7.31"
HASH_WASM_VERSION = "4.13.0"
MICROPIP_VERSION = "0.11.1"  # must equal what Pyodide's pyodide-lock.json names
# Pure-Python wheels the page loads after boot (py/localwebai/browser/packages.py): Markdown for
# replies (markdown-it-py, CommonMark with raw HTML off; mdurl is its dependency) and Pygments
# for code highlighting.
PAGE_WHEELS = {"markdown-it-py": "4.3.0", "mdurl": "0.1.2", "pygments": "2.21.0"}
WHEELS_DIR = "web/vendor/wheels"

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = "vendor.lock.json"
VENDOR_DIR = "web/vendor"  # wholly owned by this script: nothing unlisted may sit here
PYODIDE_DIR = "web/vendor/pyodide"
PYODIDE_LOCK = f"{PYODIDE_DIR}/pyodide-lock.json"
COMPAT_DIR = "web/vendor/wllama-compat"
LOCK_VERSION = 1

# Canonical SPDX ids for the licence strings the packages declare (npm's are free text).
SPDX_IDS = {"mit": "MIT", "mpl-2.0": "MPL-2.0", "apache-2.0": "Apache-2.0"}
LICENCE_CLASSIFIERS = {
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
}

MICROPIP_PATCH_REASON = (
    "Pyodide's lock carries the sha256 of a micropip wheel built by Pyodide, which differs from "
    "the wheel PyPI serves; with the upstream entry loadPackage('micropip') fails its integrity "
    "check. The vendored lock's micropip sha256 is set to the PyPI wheel's, which we ship."
)
COMPAT_LICENCE_NOTE = (
    "The @wllama/wllama-compat npm package ships no licence file; its package.json declares MIT. "
    "web/vendor/wllama-compat/LICENCE is the LICENCE of @wllama/wllama (same project, author and "
    "licence); wasm/LICENCE.wllama covers wasm/wllama-compat.wasm as well."
)
PYODIDE_LICENCE_NOTE = (
    "The pyodide npm package ships no licence file. web/vendor/pyodide/LICENSE is the MPL-2.0 "
    "text taken from the micropip wheel (same Pyodide project, same licence)."
)


@dataclass(frozen=True)
class Pick:
    """One file (or, with `tree`, every file below a folder) to copy out of a package."""

    source: str  # path inside the archive, e.g. "package/esm/index.js"
    dest: str  # repo-relative destination (a folder when `tree` is set)
    role: str = "runtime"  # "runtime" or "licence"
    tree: bool = False
    exclude_suffixes: tuple[str, ...] = (".map",)


NPM_PICKS: dict[str, tuple[str, list[Pick]]] = {
    "@wllama/wllama": (
        WLLAMA_VERSION,
        [
            Pick("package/esm/index.js", "web/vendor/wllama/index.js"),
            Pick("package/LICENCE", "web/vendor/wllama/LICENCE", role="licence"),
            Pick("package/esm/wasm/wllama.wasm", "wasm/wllama.wasm"),
            Pick("package/LICENCE", "wasm/LICENCE.wllama", role="licence"),
            Pick("package/LICENCE", f"{COMPAT_DIR}/LICENCE", role="licence"),
        ],
    ),
    # The build for browsers without JSPI or memory64 (Safari): wllama fetches it from a CDN
    # unless given local files (web/js/engine-build.js passes them to setCompat).
    "@wllama/wllama-compat": (
        WLLAMA_VERSION,
        [
            Pick("package/wasm/wllama.js", f"{COMPAT_DIR}/wllama.js"),
            Pick("package/wasm/wllama.wasm", "wasm/wllama-compat.wasm"),
        ],
    ),
    # Incremental sha256 of a whole model across its cached chunks (WebCrypto has no streaming
    # digest); used by web/js/cache.js.
    "hash-wasm": (
        HASH_WASM_VERSION,
        [
            Pick("package/dist/index.esm.min.js", "web/vendor/hash-wasm/index.esm.min.js"),
            Pick("package/LICENSE", "web/vendor/hash-wasm/LICENSE", role="licence"),
        ],
    ),
    "pyodide": (
        PYODIDE_VERSION,
        [
            Pick(f"package/{name}", f"{PYODIDE_DIR}/{name}")
            for name in (
                "pyodide.mjs",
                "pyodide.asm.mjs",
                "pyodide.asm.wasm",
                "python_stdlib.zip",
                "pyodide-lock.json",
            )
        ],
    ),
    "@pyscript/core": (
        PYSCRIPT_VERSION,
        [
            Pick("package/dist", "web/vendor/pyscript", tree=True),
            Pick("package/LICENSE", "web/vendor/pyscript/LICENSE", role="licence"),
        ],
    ),
}

# ---------------------------------------------------------------------------------------------
# Lock records
# ---------------------------------------------------------------------------------------------


@dataclass
class PatchRecord:
    """How a vendored file differs from the file in the package."""

    upstream_sha256: str
    upstream_size: int
    reason: str
    changes: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class FileRecord:
    """One vendored file: where it lives in the repo and where it came from."""

    path: str  # repo-relative, POSIX
    source: str  # path inside the package archive
    sha256: str
    size: int
    role: str = "runtime"
    patch: PatchRecord | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "source": self.source,
            "role": self.role,
            "sha256": self.sha256,
            "size": self.size,
        }
        if self.patch is not None:
            out["patch"] = {
                "upstream_sha256": self.patch.upstream_sha256,
                "upstream_size": self.patch.upstream_size,
                "reason": self.patch.reason,
                "changes": self.patch.changes,
            }
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FileRecord:
        patch = PatchRecord(**d["patch"]) if d.get("patch") else None
        return cls(
            d["path"], d["source"], d["sha256"], int(d["size"]), d.get("role", "runtime"), patch
        )


@dataclass
class PackageRecord:
    """One registry package and the files vendored from it."""

    name: str
    registry: str  # "npm" or "pypi"
    version: str
    licence: str  # SPDX id
    archive: str  # tarball / wheel file name
    integrity: str  # npm dist.integrity, or "sha256-<hex>" of the wheel
    files: list[FileRecord] = field(default_factory=list)
    licence_declared: str | None = None  # the raw string, when it is not already the SPDX id
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "registry": self.registry,
            "version": self.version,
            "licence": self.licence,
        }
        if self.licence_declared is not None:
            out["licence_declared"] = self.licence_declared
        out |= {"archive": self.archive, "integrity": self.integrity}
        if self.note is not None:
            out["note"] = self.note
        out["files"] = [f.to_json() for f in self.files]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PackageRecord:
        return cls(
            name=d["name"],
            registry=d["registry"],
            version=d["version"],
            licence=d["licence"],
            archive=d["archive"],
            integrity=d["integrity"],
            files=[FileRecord.from_json(f) for f in d["files"]],
            licence_declared=d.get("licence_declared"),
            note=d.get("note"),
        )


@dataclass
class Lock:
    """The whole `vendor.lock.json`."""

    packages: list[PackageRecord]

    def files(self) -> list[FileRecord]:
        return [f for p in self.packages for f in p.files]

    def to_text(self) -> str:
        data = {
            "lock_version": LOCK_VERSION,
            "generated_by": "scripts/vendor.py",
            "packages": [p.to_json() for p in self.packages],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def load(cls, path: Path) -> Lock:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("lock_version") != LOCK_VERSION:
            raise ValueError(f"{path}: unsupported lock_version {data.get('lock_version')!r}")
        return cls([PackageRecord.from_json(p) for p in data["packages"]])


# ---------------------------------------------------------------------------------------------
# Checking (offline)
# ---------------------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bad_path(rel: str) -> bool:
    p = PurePosixPath(rel)
    return p.is_absolute() or ".." in p.parts or rel != p.as_posix() or "\\" in rel


def verify_files(root: Path, records: Iterable[FileRecord]) -> list[str]:
    """Problems with the listed files under `root`: missing, wrong size, wrong sha256."""
    problems: list[str] = []
    seen: set[str] = set()
    for rec in records:
        if _bad_path(rec.path):
            problems.append(f"{rec.path}: not a clean repo-relative path")
            continue
        if rec.path in seen:
            problems.append(f"{rec.path}: listed twice")
            continue
        seen.add(rec.path)
        path = root / rec.path
        if not path.is_file():
            problems.append(f"{rec.path}: missing")
            continue
        size = path.stat().st_size
        if size != rec.size:
            problems.append(f"{rec.path}: size {size} != {rec.size} in lock")
            continue
        digest = sha256_file(path)
        if digest != rec.sha256:
            problems.append(f"{rec.path}: sha256 {digest} != {rec.sha256} in lock")
    return problems


def find_unlisted(root: Path, records: Iterable[FileRecord], folder: str = VENDOR_DIR) -> list[str]:
    """Problems for every file (or symlink) under `root/folder` that the lock does not list."""
    listed = {r.path for r in records}
    base = root / folder
    if not base.is_dir():
        return [f"{folder}/: missing"]
    problems = []
    for path in sorted(base.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = path.relative_to(root).as_posix()
        if rel not in listed:
            problems.append(f"{rel}: not listed in {LOCK_NAME}")
    return problems


def verify_pyodide_lock(root: Path) -> list[str]:
    """The vendored pyodide-lock.json must name the vendored micropip wheel with its real hash."""
    lock_path = root / PYODIDE_LOCK
    try:
        entry = json.loads(lock_path.read_text(encoding="utf-8"))["packages"]["micropip"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"{PYODIDE_LOCK}: cannot read the micropip entry ({exc})"]
    wheel = root / PYODIDE_DIR / entry["file_name"]
    if not wheel.is_file():
        return [f"{PYODIDE_LOCK}: names {entry['file_name']}, which is not vendored"]
    digest = sha256_file(wheel)
    if digest != entry["sha256"]:
        return [f"{PYODIDE_LOCK}: micropip sha256 {entry['sha256']} != vendored wheel's {digest}"]
    return []


def check(root: Path = REPO_ROOT, lock_path: Path | None = None) -> list[str]:
    """Every problem with the vendored files under `root`; an empty list means all is well."""
    lock_path = lock_path or root / LOCK_NAME
    try:
        lock = Lock.load(lock_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{lock_path}: cannot load ({exc})"]
    records = lock.files()
    return verify_files(root, records) + find_unlisted(root, records) + verify_pyodide_lock(root)


# ---------------------------------------------------------------------------------------------
# Re-creating (needs the registries)
# ---------------------------------------------------------------------------------------------


def spdx(declared: str) -> str:
    """Canonical SPDX id for a declared licence string; fail on anything unknown."""
    try:
        return SPDX_IDS[declared.strip().lower()]
    except KeyError:
        raise SystemExit(f"unknown licence {declared!r}: add it to SPDX_IDS") from None


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def run(cmd: list[str], cwd: Path) -> str:
    """Run a registry client; return stdout, or exit with its stderr."""
    print("+", " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return proc.stdout


def npm_pack(name: str, version: str, tmp: Path) -> tuple[Path, str]:
    """`npm pack name@version` into `tmp`; return the tarball and its verified integrity."""
    out = run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(tmp)], tmp)
    info = json.loads(out)[0]
    tarball = tmp / info["filename"]
    actual = sri_sha512(tarball.read_bytes())
    if actual != info["integrity"]:
        raise SystemExit(f"{tarball.name}: integrity {actual} != npm's {info['integrity']}")
    return tarball, info["integrity"]


def pip_download(name: str, version: str, python: str, tmp: Path) -> Path:
    """`pip download` one pure-Python wheel for the given Python version into `tmp`."""
    dest = tmp / "wheels"
    dest.mkdir(parents=True)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--python-version",
            python,
            "--only-binary=:all:",
            "--dest",
            str(dest),
            f"{name}=={version}",
        ],
        tmp,
    )
    wheels = list(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel for {name}=={version}, got {wheels}")
    return wheels[0]


def extract(tarball: Path, picks: list[Pick]) -> list[tuple[Pick, str, bytes]]:
    """(pick, source path, bytes) for every file the picks select from an npm tarball."""
    out: list[tuple[Pick, str, bytes]] = []
    with tarfile.open(tarball, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> bytes:
            fh = tar.extractfile(members[name])
            assert fh is not None
            return fh.read()

        for pick in picks:
            if not pick.tree:
                if pick.source not in members:
                    raise SystemExit(f"{tarball.name}: no {pick.source}")
                out.append((pick, pick.source, read(pick.source)))
                continue
            prefix = pick.source.rstrip("/") + "/"
            found = sorted(
                n for n in members if n.startswith(prefix) and not n.endswith(pick.exclude_suffixes)
            )
            if not found:
                raise SystemExit(f"{tarball.name}: nothing under {prefix}")
            for name in found:
                out.append((pick, name, read(name)))
    return out


def tree_dest(pick: Pick, source: str) -> str:
    if not pick.tree:
        return pick.dest
    return f"{pick.dest}/{source[len(pick.source.rstrip('/')) + 1 :]}"


def patch_pyodide_lock(data: bytes, wheel_name: str, wheel_sha256: str) -> tuple[bytes, dict]:
    """Point the lock's micropip entry at the PyPI wheel; a minimal textual edit."""
    text = data.decode("utf-8")
    entry = json.loads(text)["packages"]["micropip"]
    changes: dict[str, dict[str, str]] = {}
    for key, new in (("sha256", wheel_sha256), ("file_name", wheel_name)):
        old = entry[key]
        if old == new:
            continue
        needle = f'"{key}": "{old}"'
        if text.count(needle) != 1:
            raise SystemExit(f"pyodide-lock.json: {needle} is not unique; patch by hand")
        text = text.replace(needle, f'"{key}": "{new}"')
        changes[f"packages.micropip.{key}"] = {"from": old, "to": new}
    patched = json.loads(text)["packages"]["micropip"]
    assert patched["sha256"] == wheel_sha256 and patched["file_name"] == wheel_name
    return text.encode("utf-8"), changes


def wheel_licence(wheel: Path) -> tuple[str, str | None, str, bytes]:
    """(SPDX id, declared string or None, licence file path, licence bytes) from a wheel."""
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name).decode("utf-8")
        expression = None
        classifiers = []
        for line in meta.splitlines():
            if line.startswith("License-Expression:"):
                expression = line.split(":", 1)[1].strip()
            elif line.startswith("Classifier: License ::"):
                classifiers.append(line.split(":", 1)[1].strip())
        if expression:
            licence, declared = expression, None
        else:
            known = [LICENCE_CLASSIFIERS[c] for c in classifiers if c in LICENCE_CLASSIFIERS]
            if len(set(known)) != 1:
                raise SystemExit(f"{wheel.name}: cannot tell the licence from {classifiers}")
            licence, declared = known[0], classifiers[0]
        info_dir = meta_name.rsplit("/", 1)[0]
        lic_name = next(
            n
            for n in zf.namelist()
            if n.startswith(f"{info_dir}/licenses/LICENSE") or n == f"{info_dir}/LICENSE"
        )
        return licence, declared, lic_name, zf.read(lic_name)


def record(
    path: str, source: str, data: bytes, role: str = "runtime", patch: PatchRecord | None = None
) -> FileRecord:
    return FileRecord(path, source, sha256_bytes(data), len(data), role, patch)


def recreate(root: Path = REPO_ROOT) -> Lock:
    """Fetch every package, write the vendored files under `root` and return the new lock."""
    lock_path = root / LOCK_NAME
    old = Lock.load(lock_path) if lock_path.is_file() else None
    outputs: dict[str, bytes] = {}
    packages: list[PackageRecord] = []

    with tempfile.TemporaryDirectory(prefix="vendor-") as tmp_name:
        tmp = Path(tmp_name)
        pyodide_lock: bytes | None = None
        pyodide_lock_record: FileRecord | None = None
        pyodide_record: PackageRecord | None = None
        for name, (version, picks) in NPM_PICKS.items():
            tarball, integrity = npm_pack(name, version, tmp)
            with tarfile.open(tarball, "r:gz") as tar:
                fh = tar.extractfile("package/package.json")
                assert fh is not None
                declared = json.load(fh)["license"]
            pkg = PackageRecord(
                name,
                "npm",
                version,
                spdx(declared),
                tarball.name,
                integrity,
                licence_declared=None if spdx(declared) == declared else declared,
            )
            for pick, source, data in extract(tarball, picks):
                dest = tree_dest(pick, source)
                rec = record(dest, source, data, pick.role)
                pkg.files.append(rec)
                outputs[dest] = data
                if dest == PYODIDE_LOCK:
                    pyodide_lock, pyodide_lock_record = data, rec
            if name == "pyodide":
                pyodide_record = pkg
            if name == "@wllama/wllama-compat":
                pkg.note = COMPAT_LICENCE_NOTE
            packages.append(pkg)

        assert pyodide_lock is not None and pyodide_lock_record is not None and pyodide_record
        lock_json = json.loads(pyodide_lock)
        entry = lock_json["packages"]["micropip"]
        if entry["version"] != MICROPIP_VERSION:
            raise SystemExit(
                f"pyodide-lock.json names micropip {entry['version']}, "
                f"MICROPIP_VERSION is {MICROPIP_VERSION}"
            )
        python = ".".join(lock_json["info"]["python"].split(".")[:2])
        wheel = pip_download("micropip", MICROPIP_VERSION, python, tmp)
        wheel_bytes = wheel.read_bytes()
        wheel_sha = sha256_bytes(wheel_bytes)
        licence, declared, lic_source, lic_bytes = wheel_licence(wheel)
        micropip = PackageRecord(
            "micropip",
            "pypi",
            MICROPIP_VERSION,
            licence,
            wheel.name,
            f"sha256-{wheel_sha}",
            licence_declared=declared,
        )
        wheel_dest = f"{PYODIDE_DIR}/{entry['file_name']}"
        micropip.files.append(record(wheel_dest, wheel.name, wheel_bytes))
        micropip.files.append(record(f"{PYODIDE_DIR}/LICENSE", lic_source, lic_bytes, "licence"))
        outputs[wheel_dest] = wheel_bytes
        outputs[f"{PYODIDE_DIR}/LICENSE"] = lic_bytes
        pyodide_record.note = PYODIDE_LICENCE_NOTE
        packages.append(micropip)

        for name, version in PAGE_WHEELS.items():
            page_wheel = pip_download(name, version, python, tmp / name)
            data = page_wheel.read_bytes()
            licence, declared, lic_source, lic_bytes = wheel_licence(page_wheel)
            pkg = PackageRecord(
                name,
                "pypi",
                version,
                licence,
                page_wheel.name,
                f"sha256-{sha256_bytes(data)}",
                licence_declared=declared,
            )
            for dest, source, content, role in (
                (f"{WHEELS_DIR}/{page_wheel.name}", page_wheel.name, data, "runtime"),
                (f"{WHEELS_DIR}/LICENSE.{name}", lic_source, lic_bytes, "licence"),
            ):
                pkg.files.append(record(dest, source, content, role))
                outputs[dest] = content
            packages.append(pkg)

        patched, changes = patch_pyodide_lock(pyodide_lock, entry["file_name"], wheel_sha)
        patched_rec = record(
            PYODIDE_LOCK,
            pyodide_lock_record.source,
            patched,
            patch=PatchRecord(
                pyodide_lock_record.sha256, pyodide_lock_record.size, MICROPIP_PATCH_REASON, changes
            ),
        )
        idx = pyodide_record.files.index(pyodide_lock_record)
        pyodide_record.files[idx] = patched_rec
        outputs[PYODIDE_LOCK] = patched

    if old is not None:
        _compare_integrity(old, packages)
    new = Lock(packages)
    _write_outputs(root, outputs, old)
    lock_path.write_text(new.to_text(), encoding="utf-8")
    return new


def _compare_integrity(old: Lock, new: list[PackageRecord]) -> None:
    """Refuse to go on when a registry now serves different bytes for a pinned version."""
    before = {(p.name, p.version): p.integrity for p in old.packages}
    for pkg in new:
        was = before.get((pkg.name, pkg.version))
        if was is not None and was != pkg.integrity:
            raise SystemExit(
                f"{pkg.name}@{pkg.version}: registry integrity {pkg.integrity} != "
                f"{was} in {LOCK_NAME}; delete the lock to accept the new archive"
            )


def _write_outputs(root: Path, outputs: dict[str, bytes], old: Lock | None) -> None:
    """Replace web/vendor/ wholesale, drop files the old lock listed elsewhere, write outputs."""
    shutil.rmtree(root / VENDOR_DIR, ignore_errors=True)
    if old is not None:
        for rec in old.files():
            if rec.path not in outputs and not _bad_path(rec.path):
                (root / rec.path).unlink(missing_ok=True)
    for rel, data in sorted(outputs.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="verify the vendored files against the lock, offline"
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()

    if args.check:
        problems = check(root)
        if problems:
            print(f"vendor check: {len(problems)} problem(s):", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            return 1
        lock = Lock.load(root / LOCK_NAME)
        total = sum(f.size for f in lock.files())
        print(f"vendor check: OK, {len(lock.files())} files, {total / 1e6:.1f} MB")
        return 0

    lock = recreate(root)
    total = sum(f.size for f in lock.files())
    print(f"vendored {len(lock.files())} files, {total / 1e6:.1f} MB; wrote {LOCK_NAME}")
    problems = check(root)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
