"""Our wasm build (scripts/build_wasm.py): the committed files match the lock, tampering shows."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import build_wasm  # noqa: E402


@pytest.mark.parametrize("name", sorted(build_wasm.VARIANTS))
def test_committed_builds_match_their_locks(name: str) -> None:
    variant = build_wasm.VARIANTS[name]
    assert build_wasm.check(variant) == []
    lock = json.loads(variant.lock_path.read_text())
    paths = {output["path"] for output in lock["outputs"]}
    assert {f"wasm/wllama-{name}.wasm", f"wasm/wllama-{name}.js", "wasm/LICENCE.llama.cpp"} <= paths
    assert lock["cmake_flags"] == variant.all_cmake_flags
    assert set(lock["patches"]) == {"emscripten.patch", "llama.cpp.patch", "wllama.patch"} | set(
        variant.own_patches
    )
    assert set(lock.get("kernels", {})) == set(variant.kernel_files)


def test_every_variant_has_the_wasm_kernels_and_its_own_memory() -> None:
    simd, simd64 = build_wasm.VARIANTS["simd"], build_wasm.VARIANTS["simd64"]
    asyncify = build_wasm.VARIANTS["simd-asyncify"]
    assert "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm32" in simd.cmake_flags
    assert set(asyncify.cmake_flags) == set(simd.cmake_flags)  # the same, but for its patch
    assert (simd.source_patches, asyncify.source_patches) == ((), ("wllama-asyncify.patch",))
    assert "-DEMSCRIPTEN_SYSTEM_PROCESSOR=wasm64" in simd64.cmake_flags
    assert ("-DLLAMA_WASM_MEM64=OFF" in simd.cmake_flags) and (
        "-DLLAMA_WASM_MEM64=ON" in simd64.cmake_flags
    )
    assert simd64.outputs == {"wllama.wasm": "wllama-simd64.wasm", "wllama.js": "wllama-simd64.js"}


def test_the_relaxed_variant_is_simd_with_our_kernels_and_their_check() -> None:
    simd, relaxed = build_wasm.VARIANTS["simd"], build_wasm.VARIANTS["simd-relaxed"]
    assert relaxed.cmake_flags == simd.cmake_flags
    assert [f for f in relaxed.all_cmake_flags if f not in simd.all_cmake_flags] == [
        f"-DCMAKE_C_FLAGS={build_wasm.COMMON_C_FLAGS} -mrelaxed-simd",
        f"-DCMAKE_CXX_FLAGS={build_wasm.COMMON_C_FLAGS} -mrelaxed-simd",
    ]
    assert relaxed.own_patches == ("relaxed-simd.patch",)
    assert relaxed.kernel_files == ("quants-relaxed.c", "kernel-check.c")
    assert set(relaxed.outputs.values()) == {
        "wllama-simd-relaxed.wasm",
        "wllama-simd-relaxed.js",
        "kernels/kernel-check.wasm",
        "kernels/kernel-check.js",
    }
    assert not simd.kernel_files and "-mrelaxed-simd" not in " ".join(simd.all_cmake_flags)
    simd64, relaxed64 = build_wasm.VARIANTS["simd64"], build_wasm.VARIANTS["simd64-relaxed"]
    assert relaxed64.cmake_flags == simd64.cmake_flags
    assert relaxed64.own_patches == ("relaxed-simd.patch",)
    assert relaxed64.kernel_files == ("quants-relaxed.c",)  # one variant links the check
    assert set(relaxed64.outputs.values()) == {
        "wllama-simd64-relaxed.wasm",
        "wllama-simd64-relaxed.js",
    }


def test_check_reports_a_changed_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    variant = build_wasm.VARIANTS["simd"]
    lock = json.loads(variant.lock_path.read_text())
    for output in lock["outputs"]:
        copy = tmp_path / output["path"]
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes((REPO / output["path"]).read_bytes())
    glue = tmp_path / "wasm/wllama-simd.js"
    glue.write_bytes(glue.read_bytes() + b"\n")
    (tmp_path / "wasm/LICENCE.llama.cpp").unlink()
    monkeypatch.setattr(build_wasm, "REPO_ROOT", tmp_path)
    variant.lock_path.write_text(json.dumps(lock))
    assert build_wasm.check(variant) == [
        "wasm/wllama-simd.js differs from the lock (rebuild or restore it)",
        "wasm/LICENCE.llama.cpp is missing",
    ]
    variant.lock_path.unlink()
    assert build_wasm.check(variant) == ["wasm/wllama-simd.lock.json is missing"]


def test_the_toolchain_comes_from_the_mirror_apt_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "other.list.disabled").write_text("deb https://example.org/apt stable main\n")
    (folder / "debian.sources").write_text(
        "Types: deb\n# http://commented.test/debian\nURIs: http://mirror.test/debian-security\n"
        "Suites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\nComponents: main\n"
    )
    sources = (tmp_path / "sources.list", folder)
    assert build_wasm.debian_mirror(sources) == "http://mirror.test/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://old.test/debian bookworm main\n")
    assert build_wasm.debian_mirror((one_line,)) == "http://old.test/debian"
    with pytest.raises(build_wasm.SetupError, match="No Debian archive"):
        build_wasm.debian_mirror((tmp_path / "missing",))

    monkeypatch.setattr(build_wasm, "APT_SOURCES", (folder,))
    work = tmp_path / "apt"
    work.mkdir()
    options = build_wasm.apt_options(work)
    settings = dict(option.split("=", 1) for option in options[1::2])
    assert set(options[::2]) == {"-o"}
    assert (work / "sources.list").read_text() == (
        f"deb [signed-by={build_wasm.ARCHIVE_KEYRING}] http://mirror.test/debian trixie main\n"
    )
    # only the private state: the system's sources, lists and cache are never read or changed
    assert settings["Dir::Etc::SourceList"] == str(work / "sources.list")
    for key in ("Dir::Etc::SourceParts", "Dir::State::Lists", "Dir::Cache"):
        assert Path(settings[key]).is_relative_to(work)


def fake_apt(monkeypatch: pytest.MonkeyPatch, contents: dict[str, bytes]) -> list[list[str]]:
    """apt-get replaced by a writer of ``contents[name]`` as the downloaded .deb; the calls."""
    calls: list[list[str]] = []

    def run(cmd: list[str], cwd: Path, env: object = None) -> None:
        calls.append(cmd)
        if cmd[-2] == "download":
            name, version = cmd[-1].split("=")
            (cwd / f"{name}_{version}_all.deb").write_bytes(contents[name])

    monkeypatch.setattr(build_wasm, "run", run)
    monkeypatch.setattr(build_wasm, "debian_mirror", lambda _sources: "http://mirror.test/debian")
    return calls


def test_toolchain_packages_are_fetched_by_name_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = build_wasm.Deb("tool", "1.0-1", hashlib.sha256(b"tool").hexdigest())
    calls = fake_apt(monkeypatch, {"tool": b"tool"})
    found = build_wasm.apt_download((good,), tmp_path / "debs")
    assert found[good].read_bytes() == b"tool"
    assert [cmd[-1] for cmd in calls] == ["update", "tool=1.0-1"]
    calls.clear()
    assert build_wasm.apt_download((good,), tmp_path / "debs") == found  # kept: no apt at all
    assert calls == []

    other = build_wasm.Deb("other", "2", hashlib.sha256(b"expected").hexdigest())
    fake_apt(monkeypatch, {"other": b"tampered"})
    with pytest.raises(build_wasm.SetupError, match="other=2: sha256"):
        build_wasm.apt_download((other,), tmp_path / "debs")
    assert not (tmp_path / "debs" / "other_2.deb").exists()


def test_no_registry_host_is_written_in_scripts() -> None:
    # any URL but local ones, test domains and XML namespaces (names, never fetched)
    hosts = re.compile(
        r"https?://(?!127\.0\.0\.1|localhost|[a-z.-]*\.test\b|example\.org|www\.w3\.org/2000/svg)[^\s\"')]+"
    )
    found = {
        f"{path.name}: {match}"
        for path in sorted((REPO / "scripts").rglob("*.py"))
        for match in hosts.findall(path.read_text())
    }
    assert found == set()


BIG_FUNCTION_BYTES = 100_000
"""Before ONE_CALLER_INLINE_MAX, binaryen made ggml_graph_compute_thread 332 KB (every op inlined
into it) and __wasm_call_ctors 203 KB. Now one function per build is this big: clip's tensor
loader (111 KB; 339 KB with Asyncify's instrumentation), which a text model never runs."""


@pytest.mark.parametrize("name", sorted(build_wasm.VARIANTS))
def test_no_build_has_a_giant_function_but_the_image_loader(name: str) -> None:
    wasm = REPO / "wasm" / f"wllama-{name}.wasm"
    sizes = sorted(build_wasm.function_body_sizes(wasm))
    assert len(sizes) > 5000  # llama.cpp, wllama and the C library: the code section was read
    assert sizes[-1] >= BIG_FUNCTION_BYTES > sizes[-2]


def test_the_link_caps_one_caller_inlining() -> None:
    flags = build_wasm.VARIANTS["simd"].all_cmake_flags
    linker = next(flag for flag in flags if flag.startswith("-DCMAKE_EXE_LINKER_FLAGS="))
    cap = build_wasm.ONE_CALLER_INLINE_MAX
    assert f"-sBINARYEN_EXTRA_PASSES=--one-caller-inline-max-function-size={cap}" in linker
