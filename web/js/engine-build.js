// The llama.cpp WebAssembly builds wllama runs, always from our own files (never a CDN); which
// one a model loads with is decided in Python (py/localwebai/environment.py: WASM_BUILDS,
// Environment.build_for) from what probeWasm() reports. Here: the probes, and pointing wllama
// at the chosen build's files. ?engine=simd|simd64|default|compat is reported as `forcedBuild`.
// `memory64` tells wllama's worker how the build addresses memory (its "compat" flag is 32-bit).
const BUILDS = {
  simd: {
    worker: new URL("../wasm/wllama-simd.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd.wasm", import.meta.url).href,
    memory64: false,
  },
  simd64: {
    worker: new URL("../wasm/wllama-simd64.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd64.wasm", import.meta.url).href,
    memory64: true,
  },
  compat: {
    worker: new URL("../vendor/wllama-compat/wllama.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-compat.wasm", import.meta.url).href,
    memory64: false,
  },
};
const FORCE_PARAM = "engine";

// Smallest module using a SIMD128 instruction; WebAssembly.validate tells if the engine has it.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0,
  253, 15, 253, 98, 11,
]);

function hasMemory64() {
  try {
    new WebAssembly.Memory({ address: "i64", initial: 1n });
    return true;
  } catch {
    return false;
  }
}

const HAS_SIMD = WebAssembly.validate(SIMD_PROBE);
// where wllama itself would run its compat build (it checks these two)
const NEEDS_COMPAT = !(Boolean(WebAssembly.Suspending) && hasMemory64());

/** What decides the build: wasm features, and a build forced by the page URL. */
export function probeWasm() {
  return {
    simd: HAS_SIMD,
    jspi: Boolean(WebAssembly.Suspending),
    memory64: hasMemory64(),
    wasmExceptions: typeof WebAssembly.Tag === "function",
    forcedBuild: new URLSearchParams(location.search).get(FORCE_PARAM),
  };
}

/** Point `wllama` at our files for `build` ("simd", "simd64", "default" or "compat"). */
export function applyEngineBuild(wllama, build) {
  wllama.setCompat(BUILDS.compat, build === "compat" ? "firefox_safari" : "safari");
  const own = build === "simd" || build === "simd64" || (build === "compat" && !NEEDS_COMPAT);
  if (own) {
    // wllama picks compat only where the browser lacks a feature: override its choice
    // (getWorkerResources, wllama 3.8.1) to run our files.
    const resources = wllama.getWorkerResources.bind(wllama);
    wllama.getWorkerResources = () => ({
      ...resources(),
      wasmPath: BUILDS[build].wasm,
      jsPath: BUILDS[build].worker,
      compat: !BUILDS[build].memory64,
    });
  }
  return wllama;
}
