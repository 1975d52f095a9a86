"""What the browser (or, natively, this machine) offers the engine, and the choices that follow
from it (threads, backend, memory limit)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

NATIVE_BUILD = "native"
"""The engine build name of the native runtime (llama.cpp through llama-cpp-python)."""
WASM_BUILDS = (
    "simd-relaxed",
    "simd",
    "simd64-relaxed",
    "simd64",
    "simd-asyncify",
    "default",
    "compat",
)
"""The llama.cpp wasm builds the page can run (``web/js/engine-build.js`` applies them):
"simd-relaxed", "simd", "simd64-relaxed", "simd64" and "simd-asyncify", ours
(``scripts/build_wasm.py``: SIMD128 kernels, CPU only): 32-bit memory with JSPI and wasm
exceptions, memory64 for big models, each also with our relaxed-SIMD kernels
(``wasm/kernels/``; "-relaxed"), and 32-bit with Asyncify and JS exceptions for browsers
without JSPI (Safari); "default", wllama's (JSPI and memory64; WebGPU); "compat", wllama's
scalar Asyncify build, for browsers without SIMD128."""
OWN_BUILD_MAX_MODEL_BYTES = 2**31
"""Our 32-bit builds trap reading a GGUF of 2 GiB or more: those load with memory64."""


@dataclass(frozen=True)
class WebGPUInfo:
    """Result of asking the browser for a WebGPU adapter."""

    available: bool
    fallback: bool = False
    shader_f16: bool = False
    description: str = ""
    reason: str = ""

    @property
    def usable(self) -> bool:
        """llama.cpp's WebGPU backend needs a real (non-fallback) adapter with shader-f16."""
        return self.available and not self.fallback and self.shader_f16

    @property
    def why_not(self) -> str:
        """Why the GPU will not be used (empty when it will)."""
        if not self.available:
            return self.reason or "no WebGPU adapter"
        if self.fallback:
            return "only a software (fallback) adapter"
        if not self.shader_f16:
            return "adapter lacks shader-f16"
        return ""


@dataclass(frozen=True)
class Environment:
    """A snapshot of the browser's capabilities (filled by the binding layer's probe)."""

    cross_origin_isolated: bool
    shared_array_buffer: bool
    hardware_concurrency: int
    simd: bool
    jspi: bool
    memory64: bool
    webgpu: WebGPUInfo = field(default_factory=lambda: WebGPUInfo(available=False))
    device_memory_gib: float | None = None
    wasm_exceptions: bool = False
    relaxed_simd: bool = False
    """``WebAssembly.validate`` accepts i32x4.relaxed_dot_i8x16_i7x16_add_s."""
    forced_build: str | None = None
    """A build named by the page's ``?engine=`` (for tests and benchmarks), else None."""
    user_agent: str = ""
    force_cpu: bool = False
    """The user's "CPU only" toggle: WebGPU is not tried even when usable."""
    native: bool = False
    """CPython on native llama.cpp, not a browser: all cores, no wasm limit, GPU layers only
    when asked for (``LoadChoices.n_gpu_layers``)."""

    @classmethod
    def for_native(cls, threads: int | None = None) -> Environment:
        """This machine for the native runtime: ``os.cpu_count()`` threads, the CPU by default,
        and its physical memory when the OS says."""
        return cls(
            cross_origin_isolated=False,
            shared_array_buffer=False,
            hardware_concurrency=max(1, threads or os.cpu_count() or 1),
            simd=True,
            jspi=False,
            memory64=True,
            webgpu=WebGPUInfo(available=False, reason="native runtime"),
            device_memory_gib=_physical_memory_gib(),
            native=True,
        )

    @classmethod
    def from_probe(cls, probe: dict[str, Any]) -> Environment:
        """Build from the plain dict that ``glue.js`` ``probeEnvironment()`` returns."""
        gpu = probe.get("webgpu") or {}
        return cls(
            cross_origin_isolated=bool(probe.get("crossOriginIsolated")),
            shared_array_buffer=bool(probe.get("sharedArrayBuffer")),
            hardware_concurrency=max(1, int(probe.get("hardwareConcurrency") or 1)),
            simd=bool(probe.get("simd")),
            jspi=bool(probe.get("jspi")),
            memory64=bool(probe.get("memory64")),
            webgpu=WebGPUInfo(
                available=bool(gpu.get("available")),
                fallback=bool(gpu.get("fallback")),
                shader_f16=bool(gpu.get("shaderF16")),
                description=str(gpu.get("description") or ""),
                reason=str(gpu.get("reason") or ""),
            ),
            device_memory_gib=_positive_number(probe.get("deviceMemoryGiB")),
            wasm_exceptions=bool(probe.get("wasmExceptions")),
            relaxed_simd=bool(probe.get("relaxedSimd")),
            forced_build=forced if (forced := probe.get("forcedBuild")) in WASM_BUILDS else None,
            user_agent=str(probe.get("userAgent") or ""),
        )

    @property
    def device_memory_known(self) -> bool:
        """Firefox and Safari have no ``navigator.deviceMemory``: only wasm's limit is known."""
        return self.device_memory_gib is not None

    @property
    def can_use_threads(self) -> bool:
        return self.native or (self.cross_origin_isolated and self.shared_array_buffer)

    @property
    def webkit(self) -> bool:
        """Safari's engine (every browser on iOS too): Chromium and Firefox name themselves."""
        agent = self.user_agent
        return "AppleWebKit/" in agent and not any(n in agent for n in ("Chrome/", "Chromium/"))

    @property
    def cores_rounded_up(self) -> bool:
        """WebKit reports a bucket, not the count (4 on this 2-core machine): all of it
        oversubscribes the CPU, and ggml's spinning threads then crawl (tokens/s, SmolLM2,
        2 cores: 11.2 at 2 threads, 0.29 at 4)."""
        return self.webkit and not self.native

    @property
    def threads(self) -> int:
        """All cores when the page is isolated (wllama's own default is half), else 1; half of
        what WebKit reports, as it rounds the count up."""
        if not self.can_use_threads:
            return 1
        if self.cores_rounded_up:
            return max(1, self.hardware_concurrency // 2)
        return self.hardware_concurrency

    @property
    def use_gpu(self) -> bool:
        return self.webgpu.usable and not self.force_cpu

    @property
    def backend(self) -> str:
        return "WebGPU" if self.use_gpu else "CPU"

    @property
    def firefox(self) -> bool:
        return "Firefox/" in self.user_agent

    def build_for(self, model_bytes: int, gpu: bool) -> str:
        """The wasm build a model of ``model_bytes`` loads with: ours on the CPU wherever the
        browser has SIMD128: under 2 GiB the JSPI one (with wasm exceptions; with our
        relaxed-SIMD kernels where the browser validates relaxed SIMD) or else the Asyncify
        one, from 2 GiB memory64 (JSPI, wasm exceptions, memory64; relaxed likewise); else
        wllama's, whose own rule is compat where JSPI or memory64 is missing, except on Firefox
        (the default build runs there with a JSPI stub). ``?engine=`` wins."""
        if self.native:
            return NATIVE_BUILD
        if self.forced_build:
            return self.forced_build
        if self.simd and not gpu:
            jspi = self.jspi and self.wasm_exceptions
            if model_bytes < OWN_BUILD_MAX_MODEL_BYTES:
                if not jspi:
                    return "simd-asyncify"
                return "simd-relaxed" if self.relaxed_simd else "simd"
            if jspi and self.memory64:
                return "simd64-relaxed" if self.relaxed_simd else "simd64"
        needs_compat = not (self.jspi and self.memory64)
        return "compat" if needs_compat and not self.firefox else "default"

    @property
    def engine_build(self) -> str:
        """The build the next model loads with (a small one; see :meth:`build_for`)."""
        return self.build_for(0, self.use_gpu)

    @property
    def gpu_name(self) -> str:
        """What GPU layers run on: WebGPU in the page, the build's GPU backend natively."""
        return "GPU" if self.native else "WebGPU"

    @property
    def why_cpu(self) -> str:
        """Why the GPU is not used (empty when it is, or natively, where it is a choice)."""
        if self.use_gpu or self.native:
            return ""
        return "CPU only chosen" if self.force_cpu else f"WebGPU unused: {self.webgpu.why_not}"

    @property
    def gpu_layers(self) -> int:
        """Layers to offload: all when the GPU is used, none otherwise (skips WebGPU init)."""
        return 999 if self.use_gpu else 0

    def summary(self) -> str:
        """One line for the page header."""
        if self.native:
            plural = "s" if self.threads != 1 else ""
            return f"{self.threads} thread{plural} · {self.backend} · {NATIVE_BUILD} build"
        if not self.cross_origin_isolated:
            isolation = "not isolated"
        elif not self.shared_array_buffer:  # WebKit without its flag: no worker threads
            isolation = "cross-origin isolated, no SharedArrayBuffer (single thread)"
        else:
            isolation = "cross-origin isolated"
        backend = self.backend
        if not self.use_gpu:
            backend += f" ({self.why_cpu})"
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        if self.threads < self.hardware_concurrency and self.can_use_threads:
            threads += f" (of {self.hardware_concurrency} reported: WebKit rounds up)"
        parts = [
            threads,
            isolation,
            "SIMD" if self.simd else "no SIMD",
            backend,
            f"{self.engine_build} wasm build",
        ]
        return " · ".join(parts)


def _physical_memory_gib() -> float | None:
    """RAM in GiB from ``sysconf`` (None where the OS does not say, e.g. Windows)."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return _positive_number(pages * page_size / (1 << 30))


def _positive_number(value: Any) -> float | None:
    """A probed number that must be positive; ``None`` (unknown) for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return None
    return float(value)
