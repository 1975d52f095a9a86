// The llama.cpp WebAssembly builds wllama runs, always from our own files (never a CDN); which
// one a model loads with is decided in Python (py/localwebai/environment.py: WASM_BUILDS,
// Environment.build_for) from what probeWasm() reports (wasm-features.js probes). Here: pointing
// wllama at the chosen build's files. ?engine=<a WASM_BUILDS name> is reported as `forcedBuild`.
// `memory64` tells wllama's worker how the build addresses memory (its "compat" flag is 32-bit).
import "./wasm-features.js";
/** One of our builds (scripts/build_wasm.py): wasm/wllama-<name>.{js,wasm}. */
function ours(name, memory64) {
  const file = (extension) => new URL(`../wasm/wllama-${name}.${extension}`, import.meta.url).href;
  return { worker: file("js"), wasm: file("wasm"), memory64 };
}
const BUILDS = {
  "simd-relaxed": ours("simd-relaxed", false),
  simd: ours("simd", false),
  "simd64-relaxed": ours("simd64-relaxed", true),
  simd64: ours("simd64", true),
  "simd-asyncify": ours("simd-asyncify", false),
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
