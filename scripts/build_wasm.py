#!/usr/bin/env python3
"""Build our llama.cpp WebAssembly engine, or verify the one committed under wasm/.

    python scripts/build_wasm.py                   # build every variant (7 min each, 2 cores)
    python scripts/build_wasm.py --variant simd64  # one: wasm/wllama-simd64.{wasm,js} + lock
    python scripts/build_wasm.py --check           # verify wasm/ against the locks, offline

Why our own build: wllama 3.8.1's CMakeLists compiles llama.cpp under emscripten without
``EMSCRIPTEN_SYSTEM_PROCESSOR=wasm32``, so ggml takes its x86 path with no x86 features, and
every quantized dot product runs scalar code. These builds are wllama 3.8.1's own C++ (so its
worker and API stay as they are) on llama.cpp with ggml's wasm SIMD128 kernels, with threads,
CPU only (WebGPU keeps wllama's build: web/js/engine-build.js), in three variants
(``VARIANTS``): ``simd``, 32-bit memory with JSPI and wasm exceptions, for models under 2 GiB;
``simd64``, memory64 (wllama's own non-compat settings), for models of 2 GiB and more; and
``simd-asyncify``, 32-bit with Asyncify and JS exceptions (wllama's own compat settings, through
``wasm_patches/wllama-asyncify.patch`` on its own copy of the source), for browsers without
JSPI (Safari).

Every input is pinned by sha256 and comes from a registry:
* ``@wllama/wllama`` 3.8.1 (npm; the tarball's integrity must equal vendor.lock.json's): its
  ``CMakeLists.txt`` and ``cpp/``;
* llama.cpp b11312 from the ``llama-cpp-python`` 0.3.36 sdist (PyPI), as make_test_models.py;
* emscripten 3.1.69 (Debian trixie's package, unpacked, never installed) with node-acorn;
  binaryen 120 (trixie), run through trixie's own loader and libc (bookworm's is too old).
  ``apt-get download`` fetches them by name and version through a private apt state whose one
  source is trixie on the mirror this system's apt sources already name, so no host is written
  here; apt checks the signed index, and each file must also match its pinned sha256;
* clang-19, lld-19 and llvm-19 from the system (Debian bookworm: apt-get install them).
``scripts/wasm_patches/`` holds our changes to wllama, llama.cpp and emscripten, each explained
at its top.
The toolchain and sources are unpacked once under ``.cache/wasm-build/``. The outputs, and the
hashes of everything that went in, are recorded in ``wasm/wllama-<variant>.lock.json``.
Bit-for-bit: the compiler runs with address-space randomization off (``setarch``). With it on,
clang-19 compiling ``llama-context.cpp`` with the same command gave two different objects (5 of
6 runs one, 1 of 6 the other; 2026-12-03): in ``llama_context::graph_reserve`` its WebAssembly
backend starts a wasm ``try`` (closed by a ``delegate``) a few instructions earlier or later, so
an order it follows depends on where its own objects lie in memory. With randomization off, 10
of 10 runs gave the same object, and two full builds of ``simd`` the same files. Every other
object and the link (binaryen) were already deterministic. ``--check`` verifies the committed
files against the lock.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from common import CACHE_DIR, SetupError, extract_members, pip_download, sha256_file
from make_test_models import (
    LLAMA_CPP_PYTHON_VERSION,
    SDIST_LLAMA_CPP_PREFIX,
    SDIST_NAME,
    SDIST_SHA256,
)
from vendor import REPO_ROOT, WLLAMA_VERSION, Lock, npm_pack

APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
WORK_DIR = CACHE_DIR / "wasm-build"
PATCH_DIR = Path(__file__).resolve().parent / "wasm_patches"
TOOLCHAIN_PATCH = "emscripten.patch"
SOURCE_PATCHES = ("wllama.patch", "llama.cpp.patch")
BUILD_LOG = WORK_DIR / "build.log"
LLVM_VERSION = "19"
GGML_CPU = Path("llama.cpp/ggml/src/ggml-cpu")
LLVM_TOOLS = (f"clang-{LLVM_VERSION}", f"wasm-ld-{LLVM_VERSION}", f"llvm-ar-{LLVM_VERSION}")

# xxhash without SIMDe (see llama.cpp.patch); source paths (in asserts) relative to the tree, so
# the bytes do not depend on where the checkout is
COMMON_C_FLAGS = "-DXXH_VECTOR=0 -ffile-prefix-map=@SOURCE@=."
KERNEL_DIR = REPO_ROOT / "wasm" / "kernels"
RELAXED_KERNELS = "quants-relaxed.c"  # copied next to ggml's arch/wasm/quants.c
KERNEL_CHECK = "kernel-check.c"  # linked with a relaxed build's ggml: kernel-check.{js,wasm} here
ONE_CALLER_INLINE_MAX = 500
"""binaryen's -O3 inlines every function with one caller, whatever its size (its default, -1):
ggml-cpu's ops all went into ggml_graph_compute_thread, 332 KB of wasm, which V8's optimizing
tier compiled as the model finished loading (about 1 s on one core, 210 MB of compiler memory:
the app's peak). Under this cap (binaryen's expression count) each op stays its own function,
compiled when it gets hot; every function a text model runs is then under 100 KB."""
LINK_FLAGS = (
    "-sWASM_BIGINT=1",
    f"-sBINARYEN_EXTRA_PASSES=--one-caller-inline-max-function-size={ONE_CALLER_INLINE_MAX}",
)
KERNEL_CHECK_FLAGS = ("-O3", "-DNDEBUG", "-msimd128", "-mrelaxed-simd", "-pthread")


@dataclass(frozen=True)
class Variant:
    """One build we ship: ``wasm/wllama-{name}.{wasm,js}`` and their lock."""

    name: str
    cmake_flags: tuple[str, ...]
    """Besides the common ones (``all_cmake_flags``); EMSCRIPTEN_SYSTEM_PROCESSOR=wasm* is the
    point of every variant: ggml's wasm SIMD128 kernels instead of its featureless x86 path."""
    source_patches: tuple[str, ...] = ()
    """Besides SOURCE_PATCHES: applied to this variant's own copy of the source."""
    relaxed_simd: bool = False
    """Compiled with -mrelaxed-simd, with our relaxed-SIMD kernels (wasm/kernels/, through
    relaxed-simd.patch)."""
    kernel_check: bool = False
    """A relaxed variant that also links the kernel check from its own ggml libraries (one
    does: wasm/kernels/kernel-check.{js,wasm})."""

    @property
    def own_patches(self) -> tuple[str, ...]:
        """The patches applied to this variant's own copy of the source."""
        relaxed = ("relaxed-simd.patch",) if self.relaxed_simd else ()
        return (*self.source_patches, *relaxed)

    @property
    def patches(self) -> tuple[str, ...]:
        """Every patch that went into this variant (the lock records their hashes)."""
        return (TOOLCHAIN_PATCH, *SOURCE_PATCHES, *self.own_patches)

    @property
    def kernel_files(self) -> tuple[str, ...]:
        """Our own C files in wasm/kernels/ that went into this variant (hashes in the lock)."""
        relaxed = (RELAXED_KERNELS,) if self.relaxed_simd else ()
        return (*relaxed, *((KERNEL_CHECK,) if self.kernel_check else ()))

    @property
    def all_cmake_flags(self) -> list[str]:
        c_flags = COMMON_C_FLAGS + (" -mrelaxed-simd" if self.relaxed_simd else "")
        return [
            "-DCMAKE_BUILD_TYPE=Release",
            "-DGGML_WEBGPU=OFF",
            f"-DCMAKE_C_FLAGS={c_flags}",
            f"-DCMAKE_CXX_FLAGS={c_flags}",
            f"-DCMAKE_EXE_LINKER_FLAGS={' '.join(LINK_FLAGS)}",
            *self.cmake_flags,
        ]

    @property
    def lock_path(self) -> Path:
        return REPO_ROOT / "wasm" / f"wllama-{self.name}.lock.json"

    @property
    def outputs(self) -> dict[str, str]:
        """Built file → the name it ships under in wasm/."""
        check = {name: f"kernels/{name}" for name in ("kernel-check.wasm", "kernel-check.js")}
        return {
            "wllama.wasm": f"wllama-{self.name}.wasm",
            "wllama.js": f"wllama-{self.name}.js",
            **(check if self.kernel_check else {}),
        }


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant(  # 32-bit memory: models under 2 GiB
            "simd",
            (
                "-DWLLAMA_COMPAT=ON",  # wllama's 32-bit variant (patched: JSPI + wasm exceptions)
                "-DLLAMA_WASM_MEM64=OFF",
                "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm32",
            ),
        ),
        Variant(  # memory64: models of 2 GiB and more (wllama's own non-compat settings)
            "simd64",
            (
                "-DWLLAMA_COMPAT=OFF",
                "-DLLAMA_WASM_MEM64=ON",
                "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm64",
            ),
        ),
        Variant(  # 32-bit memory without JSPI (Safari): wllama's own compat settings
            "simd-asyncify",
            (
                "-DWLLAMA_COMPAT=ON",
                "-DLLAMA_WASM_MEM64=OFF",
                "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm32",
            ),
            source_patches=("wllama-asyncify.patch",),
        ),
        Variant(  # simd with relaxed-SIMD kernels, for browsers that validate relaxed SIMD
            "simd-relaxed",
            (
                "-DWLLAMA_COMPAT=ON",
                "-DLLAMA_WASM_MEM64=OFF",
                "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm32",
            ),
            relaxed_simd=True,
            kernel_check=True,
        ),
        Variant(  # simd64 with relaxed-SIMD kernels
            "simd64-relaxed",
            (
                "-DWLLAMA_COMPAT=OFF",
                "-DLLAMA_WASM_MEM64=ON",
                "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm64",
            ),
            relaxed_simd=True,
        ),
    )
}


@dataclass(frozen=True)
class Deb:
    """One Debian trixie package (by name and version), unpacked into the toolchain folder."""

    name: str
    version: str
    sha256: str

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"


def debian_mirror(sources: tuple[Path, ...]) -> str:
    """The Debian archive this system's apt sources name (its first ``debian`` URI, not the
    security one): the packages come from the mirror apt already uses, named nowhere here."""
    files = [f for s in sources for f in ([s] if s.is_file() else sorted(s.glob("*")))]
    for file in files:
        if not file.name.endswith((".list", ".sources")):
            continue
        for line in file.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"]:
                uris = words[1:]
            elif words[:1] == ["deb"]:
                uris = [w for w in words[1:] if "://" in w][:1]
            else:
                continue
            for uri in uris:
                if uri.rstrip("/").endswith("/debian"):
                    return uri
    raise SetupError("No Debian archive in the apt sources (/etc/apt): cannot fetch the toolchain.")


TOOLCHAIN = (
    Deb(
        "emscripten",
        "3.1.69+dfsg-3",
        "d2ac788b952c56ab6736b4db2ac0825aa63cfb4c08b8abaefe19e324779d1b2d",
    ),
    Deb(
        "node-acorn",
        "8.8.1+ds+~cs25.17.7-2",
        "5c6814cf6536892b3a93cc72a0a3792beb0d3f6be3d69f499ca7d764583479a9",
    ),
    Deb("binaryen", "120-4", "47be56009e56170f4338a0154fbff2028bd607bc3c8b6a5414658a985bef6470"),
    Deb(
        "libc6",
        "2.41-12+deb13u5",
        "b59b0625cd1a791375d40dab23a4d5d3d0641e3d0a773501becdc3725b7f99cf",
    ),
    Deb(
        "libstdc++6",
        "14.2.0-19",
        "ab1fa05837aa7a92aae748fd07a18a35f7d18bb4a71c4724fe2bbf0e32089de0",
    ),
    Deb(
        "libgcc-s1", "14.2.0-19", "3c71917b490d1a17aed43196a2787a256ecf060526cdb20216a74bedc061b150"
    ),
)
TOOLCHAIN_SUITE = "trixie"
ARCHIVE_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
BINARYEN_TOOLS = ("wasm-opt", "wasm-emscripten-finalize", "wasm-metadce", "wasm-as", "wasm-dis")


@dataclass(frozen=True)
class Input:
    name: str
    sha256: str


@dataclass(frozen=True)
class Output:
    path: str
    sha256: str
    size: int


# ---- check ------------------------------------------------------------------------------------


def check(variant: Variant) -> list[str]:
    """Problems with a variant's files in wasm/ against its lock (empty when intact)."""
    lock_path = variant.lock_path
    if not lock_path.is_file():
        return [f"{lock_path.relative_to(REPO_ROOT)} is missing"]
    lock = json.loads(lock_path.read_text())
    problems = []
    for output in lock["outputs"]:
        path = REPO_ROOT / output["path"]
        if not path.is_file():
            problems.append(f"{output['path']} is missing")
        elif path.stat().st_size != output["size"] or sha256_file(path) != output["sha256"]:
            problems.append(f"{output['path']} differs from the lock (rebuild or restore it)")
    sources = {PATCH_DIR / patch: lock["patches"].get(patch) for patch in variant.patches}
    kernels = lock.get("kernels", {})
    sources |= {KERNEL_DIR / name: kernels.get(name) for name in variant.kernel_files}
    for path, locked in sources.items():
        if locked != sha256_file(path):
            problems.append(
                f"{path.name} changed since the {variant.name} build: "
                f"run scripts/build_wasm.py --variant {variant.name}"
            )
    return problems


def _uleb128(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned LEB128 number at ``at``, and where the next field starts."""
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80:
            return value, at


def function_body_sizes(wasm: Path) -> list[int]:
    """The byte size of every function body in a wasm module, in its code section's order."""
    data = wasm.read_bytes()
    at = 8  # past the magic and the version
    while at < len(data):
        section_id = data[at]
        size, at = _uleb128(data, at + 1)
        if section_id == 10:  # code
            count, body = _uleb128(data, at)
            sizes = []
            for _ in range(count):
                body_size, body = _uleb128(data, body)
                sizes.append(body_size)
                body += body_size
            return sizes
        at += size
    return []


# ---- toolchain --------------------------------------------------------------------------------


def apt_options(work: Path) -> list[str]:
    """apt-get options for a private apt state under ``work`` whose only source is trixie on
    the mirror this system's apt already uses; the system's own lists and cache stay as they are."""
    sources = work / "sources.list"
    sources.write_text(
        f"deb [signed-by={ARCHIVE_KEYRING}] {debian_mirror(APT_SOURCES)} {TOOLCHAIN_SUITE} main\n"
    )
    for folder in ("parts", "lists/partial", "cache/archives/partial"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    settings = {
        "Dir::Etc::SourceList": sources,
        "Dir::Etc::SourceParts": work / "parts",
        "Dir::State::Lists": work / "lists",
        "Dir::Cache": work / "cache",
        "Debug::NoLocking": "1",  # private state: no system lock to take
        "APT::Sandbox::User": getpass.getuser(),
    }
    return [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]


def apt_download(debs: tuple[Deb, ...], target: Path) -> dict[Deb, Path]:
    """Each package fetched by apt itself (signed index, by name and version), then checked
    against its pinned sha256; files already in ``target`` and intact are kept."""
    target.mkdir(parents=True, exist_ok=True)
    found = {deb: target / f"{deb.name}_{deb.version}.deb" for deb in debs}
    missing = [
        d for d, path in found.items() if not path.is_file() or sha256_file(path) != d.sha256
    ]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            options = apt_options(work)
            run(["apt-get", *options, "update"], work)
            fetched = work / "fetched"
            for deb in missing:
                folder = fetched / deb.name
                folder.mkdir(parents=True)
                run(["apt-get", *options, "download", deb.spec], folder)
                (archive,) = folder.glob("*.deb")
                actual = sha256_file(archive)
                if actual != deb.sha256:
                    raise SetupError(f"{deb.spec}: sha256 {actual}, expected {deb.sha256}")
                shutil.move(archive, found[deb])
    return found


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run one build step, its output appended to the build log."""
    print(f"run         {' '.join(cmd)}", flush=True)
    with BUILD_LOG.open("a") as log:
        result = subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = BUILD_LOG.read_text()[-4000:]
        raise SetupError(f"{cmd[0]} failed ({result.returncode}), see {BUILD_LOG}:\n{tail}")


def setup_toolchain(root: Path) -> dict[str, str]:
    """Unpack the pinned packages; return the environment emcc/emcmake need."""
    missing = [tool for tool in LLVM_TOOLS if shutil.which(tool) is None]
    if missing:
        raise SetupError(
            f"{', '.join(missing)} missing: apt-get install clang-{LLVM_VERSION} "
            f"lld-{LLVM_VERSION} llvm-{LLVM_VERSION} cmake make"
        )
    debs = root / "debs"
    unpacked = root / "root"
    stamp = unpacked / ".unpacked"
    if not stamp.is_file() or stamp.read_text() != _toolchain_id():
        shutil.rmtree(unpacked, ignore_errors=True)
        for archive in apt_download(TOOLCHAIN, debs).values():
            run(["dpkg-deb", "-x", str(archive), str(unpacked)], root)
        apply_patch(TOOLCHAIN_PATCH, unpacked / "usr/share/emscripten")
        stamp.write_text(_toolchain_id())
    emscripten = unpacked / "usr/share/emscripten"
    # emscripten's JS tools import acorn as ES modules, which only node_modules/ resolves
    node_modules = emscripten / "node_modules"
    node_modules.mkdir(exist_ok=True)
    for package in (unpacked / "usr/share/nodejs").iterdir():
        link = node_modules / package.name
        if not link.exists():
            link.symlink_to(package)
    # trixie's binaryen needs glibc 2.38: run each tool through trixie's loader and libraries
    binaryen = root / "binaryen" / "bin"
    binaryen.mkdir(parents=True, exist_ok=True)
    libs = unpacked / "usr/lib/x86_64-linux-gnu"
    for tool in BINARYEN_TOOLS:
        wrapper = binaryen / tool
        wrapper.write_text(
            f"#!/bin/sh\nexec {libs}/ld-linux-x86-64.so.2 --library-path {libs} "
            f'{unpacked}/usr/bin/{tool} "$@"\n'
        )
        wrapper.chmod(0o755)
    return {
        **os.environ,
        "EM_CONFIG": str(emscripten / ".emscripten"),  # Debian's: clang-19 etc. from /usr/bin
        "EM_BINARYEN_ROOT": str(binaryen.parent),
        "EM_CACHE": str(root / "emscripten-cache"),
        "EM_FROZEN_CACHE": "0",  # system libraries are built on first use
        "PATH": f"{emscripten}{os.pathsep}{os.environ['PATH']}",
    }


def _toolchain_id() -> str:
    """The packages and our patch to them: the unpacked toolchain is redone when one changes."""
    return ",".join([*(deb.sha256 for deb in TOOLCHAIN), sha256_file(PATCH_DIR / TOOLCHAIN_PATCH)])


# ---- sources ----------------------------------------------------------------------------------


def wllama_tarball(tmp: Path) -> Path:
    """The npm tarball of the wllama we vendor, checked against vendor.lock.json."""
    vendored = Lock.load(REPO_ROOT / "vendor.lock.json").packages
    expected = next(p.integrity for p in vendored if p.name == "@wllama/wllama")
    tarball, integrity = npm_pack("@wllama/wllama", WLLAMA_VERSION, tmp)
    if integrity != expected:
        raise SetupError(f"@wllama/wllama {WLLAMA_VERSION}: {integrity} != lock's {expected}")
    return tarball


def prepare_source(source: Path, wllama: Path, sdist: Path) -> None:
    """wllama's tree with llama.cpp inside (as its git submodule would be), patched."""
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    extract_members(wllama, "package/", ("",), source)
    extract_members(sdist, SDIST_LLAMA_CPP_PREFIX, ("",), source / "llama.cpp")
    wllama_patch, llama_cpp_patch = SOURCE_PATCHES
    apply_patch(wllama_patch, source)
    apply_patch(llama_cpp_patch, source / "llama.cpp")


def apply_patch(name: str, folder: Path) -> None:
    """One of scripts/wasm_patches/ (each says at its top what it changes and why)."""
    run(["patch", "-p1", "--forward", "-i", str(PATCH_DIR / name)], folder)


# ---- build ------------------------------------------------------------------------------------


def build(variants: list[Variant]) -> None:
    started = time.monotonic()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    BUILD_LOG.write_text("")
    env = setup_toolchain(WORK_DIR)
    sdist = pip_download(
        f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        SDIST_NAME,
        SDIST_SHA256,
        ["--no-binary", "llama-cpp-python"],
    )
    source = WORK_DIR / "source"
    with tempfile.TemporaryDirectory() as tmp:
        wllama = wllama_tarball(Path(tmp))
        wllama_sha256 = sha256_file(wllama)
        prepare_source(source, wllama, sdist)
    inputs = [
        Input(f"npm @wllama/wllama {WLLAMA_VERSION}", wllama_sha256),
        Input(f"pypi {SDIST_NAME}", SDIST_SHA256),
        *(Input(f"debian {deb.name} {deb.version}", deb.sha256) for deb in TOOLCHAIN),
    ]
    for variant in variants:
        build_variant(variant, source, env, inputs)
    print(
        f"built       {', '.join(v.name for v in variants)} in {time.monotonic() - started:.0f} s"
    )


def build_variant(variant: Variant, source: Path, env: dict[str, str], inputs: list[Input]) -> None:
    """Configure and build one variant in its own folder; copy its files and write its lock."""
    build_dir = WORK_DIR / f"build-{variant.name}"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir()
    if variant.own_patches:
        own_source = WORK_DIR / f"source-{variant.name}"
        shutil.rmtree(own_source, ignore_errors=True)
        shutil.copytree(source, own_source, symlinks=True)
        for patch in variant.own_patches:
            apply_patch(patch, own_source)
        if variant.relaxed_simd:
            shutil.copy(KERNEL_DIR / RELAXED_KERNELS, own_source / GGML_CPU / "arch/wasm")
        source = own_source
    cmake_flags = variant.all_cmake_flags
    flags = [flag.replace("@SOURCE@", str(source)) for flag in cmake_flags]
    run(["emcmake", "cmake", str(source), *flags], build_dir, env)
    # without address-space randomization: clang-19's WebAssembly backend otherwise places
    # some wasm `try`s by the addresses of its own objects (see this file's docstring)
    make = ["emmake", "make", "wllama", "-j", str(os.cpu_count() or 1)]
    run(["setarch", "--addr-no-randomize", *make], build_dir, env)
    if variant.kernel_check:
        build_kernel_check(source, build_dir, env)
    output_dir = REPO_ROOT / "wasm"
    copies = {
        **{build_dir / built: name for built, name in variant.outputs.items()},
        source / "llama.cpp/LICENSE": "LICENCE.llama.cpp",
        WORK_DIR / "root/usr/share/doc/emscripten/copyright": "LICENCE.emscripten",
    }
    outputs = []
    for origin, name in copies.items():
        path = output_dir / name
        shutil.copyfile(origin, path)
        outputs.append(Output(f"wasm/{name}", sha256_file(path), path.stat().st_size))
    clang = subprocess.run([LLVM_TOOLS[0], "--version"], capture_output=True, text=True)
    lock = {
        "generated_by": "scripts/build_wasm.py",
        "variant": variant.name,
        "licence": "MIT: wllama (wasm/LICENCE.wllama), llama.cpp, emscripten's runtime (MIT/NCSA)",
        "inputs": [asdict(i) for i in inputs],
        "system_compiler": clang.stdout.splitlines()[0],
        "patches": {name: sha256_file(PATCH_DIR / name) for name in variant.patches},
        **(
            {"kernels": {name: sha256_file(KERNEL_DIR / name) for name in variant.kernel_files}}
            if variant.kernel_files
            else {}
        ),
        "cmake_flags": cmake_flags,
        "outputs": [asdict(o) for o in outputs],
    }
    variant.lock_path.write_text(json.dumps(lock, indent=2) + "\n")


def build_kernel_check(source: Path, build_dir: Path, env: dict[str, str]) -> None:
    """kernel-check.{js,wasm}: our relaxed kernels, ggml's SIMD128 and scalar ones, from this
    build's own ggml libraries (tests/e2e/test_wasm_kernels.py runs it in Chromium)."""
    ggml = source / "llama.cpp/ggml"
    libraries = build_dir / "llama.cpp/ggml/src"
    includes = [f"-I{ggml / 'include'}", f"-I{ggml / 'src'}", f"-I{source / GGML_CPU}"]
    prefix_maps = [f"-ffile-prefix-map={source}=.", f"-ffile-prefix-map={KERNEL_DIR}=."]
    compile_c = ["emcc", *KERNEL_CHECK_FLAGS, *prefix_maps, *includes, "-c"]
    compile_c += [str(KERNEL_DIR / KERNEL_CHECK), "-o", "kernel-check.o"]
    link = ["em++", *KERNEL_CHECK_FLAGS, "kernel-check.o"]  # em++: ggml-cpu has C++ parts
    link += [str(libraries / "libggml-cpu.a"), str(libraries / "libggml-base.a")]
    link += ["-sENVIRONMENT=web,worker", "-o", "kernel-check.js"]
    for command in (compile_c, link):
        run(["setarch", "--addr-no-randomize", *command], build_dir, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify wasm/ against the locks")
    parser.add_argument(
        "--variant",
        action="append",
        choices=sorted(VARIANTS),
        help="build (or check) only this variant; repeatable (default: all)",
    )
    args = parser.parse_args(argv)
    variants = [VARIANTS[name] for name in args.variant or VARIANTS]
    if args.check:
        problems = [problem for variant in variants for problem in check(variant)]
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print("wasm build: ok" if not problems else f"wasm build: {len(problems)} problem(s)")
        return 1 if problems else 0
    try:
        build(variants)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
