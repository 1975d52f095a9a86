// The llama.cpp WebAssembly builds wllama runs, always from our own files (never a CDN); which
// one a model loads with is decided in Python (py/localwebai/environment.py: WASM_BUILDS,
// Environment.build_for) from what probeWasm() reports (wasm-features.js probes). Here: pointing
// wllama at the chosen build's files. ?engine=<a WASM_BUILDS name> is reported as `forcedBuild`.
// `memory64` tells wllama's worker how the build addresses memory (its "compat" flag is 32-bit).
import "./wasm-features.js";
const BUILDS = {
  simd: {
    worker: new URL("../wasm/wllama-simd.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd.wasm", import.meta.url).href,
    memory64: false,
  },
  "simd-relaxed": {
    worker: new URL("../wasm/wllama-simd-relaxed.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd-relaxed.wasm", import.meta.url).href,
    memory64: false,
  },
  "simd64-relaxed": {
    worker: new URL("../wasm/wllama-simd64-relaxed.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd64-relaxed.wasm", import.meta.url).href,
    memory64: true,
  },
  simd64: {
    worker: new URL("../wasm/wllama-simd64.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd64.wasm", import.meta.url).href,
    memory64: true,
  },
  "simd-asyncify": {
    worker: new URL("../wasm/wllama-simd-asyncify.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd-asyncify.wasm", import.meta.url).href,
    memory64: false,
  },
  compat: {
    worker: new URL("../vendor/wllama-compat/wllama.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-compat.wasm", import.meta.url).href,
    memory64: false,
  },
};
const FORCE_PARAM = "engine";
const { wasmFeatures } = self;

// where wllama itself would run its compat build (it checks these two)
const NEEDS_COMPAT = !(wasmFeatures.jspi && wasmFeatures.memory64);

/** What decides the build: wasm features, and a build forced by the page URL. */
export function probeWasm() {
  return {
    ...wasmFeatures,
    forcedBuild: new URLSearchParams(location.search).get(FORCE_PARAM),
  };
}

/** Point `wllama` at our files for `build` (a key of BUILDS, or "default"). */
export function applyEngineBuild(wllama, build) {
  wllama.setCompat(BUILDS.compat, build === "compat" ? "firefox_safari" : "safari");
  const own = build === "compat" ? !NEEDS_COMPAT : build in BUILDS;
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
