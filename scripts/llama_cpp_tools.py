"""Native llama.cpp programs (``llama-quantize``, ``llama-bench``) built with cmake from the
llama-cpp-python sdist's llama.cpp, the source of every engine here; each target is built once
per set of flags and its binary cached in ``.cache/bin/``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from common import CACHE_DIR, SetupError, extract_members, pip_download, temp_path
from make_test_models import (
    LLAMA_CPP_PYTHON_VERSION,
    SDIST_LLAMA_CPP_PREFIX,
    SDIST_NAME,
    SDIST_SHA256,
)

SOURCE_DIR = CACHE_DIR / f"llama.cpp-{LLAMA_CPP_PYTHON_VERSION}"
BIN_DIR = CACHE_DIR / "bin"
BASE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DGGML_OPENMP=OFF",  # ggml's own thread pool, as in the wasm builds
)


@dataclass(frozen=True)
class Tool:
    """One cmake target, built with BASE_FLAGS plus ``flags``."""

    target: str
    flags: tuple[str, ...] = ()

    @property
    def binary(self) -> Path:
        """Named after the version and the flags: a change of either builds it again."""
        digest = hashlib.sha256("\n".join(self.flags).encode()).hexdigest()[:8]
        return BIN_DIR / f"{self.target}-{LLAMA_CPP_PYTHON_VERSION}-{digest}"


def ensure_tool(tool: Tool) -> Path:
    """The tool's binary, built first when missing (a few minutes on 2 cores)."""
    if tool.binary.is_file():
        print(f"cached      {tool.binary.relative_to(CACHE_DIR.parent)}")
        return tool.binary
    if shutil.which("cmake") is None:
        raise SetupError(f"cmake is needed to build {tool.target} (apt-get install cmake g++)")
    extract_source()
    build_dir = SOURCE_DIR / f"build-{tool.binary.name}"
    configure = ["cmake", "-S", str(SOURCE_DIR), "-B", str(build_dir), *BASE_FLAGS, *tool.flags]
    build = ["cmake", "--build", str(build_dir), "--target", tool.target]
    build += ["-j", str(os.cpu_count() or 1)]
    started = time.monotonic()
    for cmd in (configure, build):
        print(f"build       {' '.join(cmd)}", flush=True)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SetupError(f"{cmd[0]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy2(build_dir / "bin" / tool.target, tool.binary)
    print(f"            {tool.target} built in {time.monotonic() - started:.0f} s")
    return tool.binary


def extract_source() -> None:
    """Unpack the sdist's llama.cpp into .cache/ (once)."""
    if (SOURCE_DIR / "CMakeLists.txt").is_file():
        return
    sdist = pip_download(
        f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        SDIST_NAME,
        SDIST_SHA256,
        ["--no-binary", "llama-cpp-python"],
    )
    tmp = temp_path(SOURCE_DIR)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    extract_members(sdist, SDIST_LLAMA_CPP_PREFIX, ("",), tmp)
    tmp.replace(SOURCE_DIR)
