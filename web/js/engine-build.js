// Which llama.cpp WebAssembly build wllama runs, always from our own files (never a CDN):
//  - "simd":    wasm/wllama-simd.wasm + wasm/wllama-simd.js, built here by scripts/build_wasm.py:
//               wllama's C++ with llama.cpp's wasm SIMD128 kernels (32-bit memory, JSPI, wasm
//               exceptions; CPU only). The CPU build wherever the browser has JSPI (Chromium).
//  - "default": wasm/wllama.wasm, wllama's own build (JSPI + memory64, WebGPU): the WebGPU build.
//  - "compat":  wasm/wllama-compat.wasm + vendor/wllama-compat/wllama.js (Asyncify, 32-bit memory)
//               for browsers without JSPI or memory64 (Safari).
// The page URL flag ?engine=simd|default|compat forces one (for tests and benchmarks).
const BUILDS = {
  simd: {
    worker: new URL("../wasm/wllama-simd.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-simd.wasm", import.meta.url).href,
  },
  compat: {
    worker: new URL("../vendor/wllama-compat/wllama.js", import.meta.url).href,
    wasm: new URL("../wasm/wllama-compat.wasm", import.meta.url).href,
  },
};
const FORCE_PARAM = "engine";

// Smallest module using a SIMD128 instruction; WebAssembly.validate tells if the engine has it.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0,
  253, 15, 253, 98, 11,
]);

export function hasMemory64() {
  try {
    new WebAssembly.Memory({ address: "i64", initial: 1n });
    return true;
  } catch {
    return false;
  }
}

export const HAS_SIMD = WebAssembly.validate(SIMD_PROBE);
const HAS_JSPI = Boolean(WebAssembly.Suspending);
// wllama's own rule: compat where JSPI or memory64 is missing, except on Firefox (its "safari"
// mode), where the default build runs with a JSPI stub.
const NEEDS_COMPAT = !(HAS_JSPI && hasMemory64());
const FIREFOX = /Firefox\/[0-9.]+(\s|$)/.test(navigator.userAgent);
// our build suspends through JSPI for file reads and throws wasm exceptions
const CAN_RUN_SIMD = HAS_JSPI && HAS_SIMD && typeof WebAssembly.Tag === "function";

function forced() {
  const name = new URLSearchParams(location.search).get(FORCE_PARAM);
  return ["simd", "default", "compat"].includes(name) ? name : null;
}

// Our build is 32-bit: it traps ("memory access out of bounds") reading a GGUF of 2 GiB or more,
// which wllama's memory64 build loads.
const SIMD_MAX_MODEL_BYTES = 2 ** 31;

/**
 * The build a model of `modelBytes` loads with: on the GPU wllama's (WebGPU lives there), and
 * for a model of 2 GiB or more wllama's memory64 build; else ours.
 */
export function engineBuild(gpu = false, modelBytes = 0) {
  const wllamaChoice = NEEDS_COMPAT && !FIREFOX ? "compat" : "default";
  const ours = CAN_RUN_SIMD && !gpu && modelBytes < SIMD_MAX_MODEL_BYTES;
  return forced() || (ours ? "simd" : wllamaChoice);
}

/** Point `wllama` at our files for `build` (see engineBuild). */
export function applyEngineBuild(wllama, build) {
  wllama.setCompat(BUILDS.compat, build === "compat" ? "firefox_safari" : "safari");
  const own = build === "simd" || (build === "compat" && !NEEDS_COMPAT);
  if (own) {
    // wllama picks compat only where the browser lacks a feature: override its choice
    // (getWorkerResources, wllama 3.8.1) to run our files; both are 32-bit ("compat") builds.
    const resources = wllama.getWorkerResources.bind(wllama);
    wllama.getWorkerResources = () => ({
      ...resources(),
      wasmPath: BUILDS[build].wasm,
      jsPath: BUILDS[build].worker,
      compat: true,
    });
  }
  return wllama;
}
