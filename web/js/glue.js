// Thin JS glue for the Python UI. Only what must be JS lives here:
//  - downloads (http.js) and the model cache's IndexedDB (cache.js), re-exported here,
//  - feature probes that need JS-only APIs (wasm validation, WebGPU adapter),
//  - constructing wllama with our own wasm builds and no CDN fallback.
// Everything else (decisions, errors, UI) is Python: see py/localwebai/browser/.
import { CacheManager, Wllama } from "../vendor/wllama/index.js";
import { applyEngineBuild, probeWasm } from "./engine-build.js";

export * from "./cache.js";
export * from "./http.js";
export { bootRecord } from "./pyodide-boot.js";

const WLLAMA_WASM = new URL("../wasm/wllama.wasm", import.meta.url).href;

// Models reach wllama as Blobs from our own cache (py/localwebai/cache.py), never through
// wllama's. Its default cache manager needs a storage backend (OPFS) and throws in its
// constructor where there is none (WebKitGTK, private windows): give it one that stores nothing.
const NO_STORAGE = {
  isSupported: () => true,
  read: async () => null,
  getSize: async () => -1,
  list: async () => [],
  write: async () => {
    throw new Error("LocalWebAI keeps models in its own cache, not wllama's");
  },
  delete: async () => {},
};

/** A new wllama instance on our files for `build` (Python chooses it: Environment.build_for). */
export function createWllama(build) {
  const config = { suppressNativeLog: true, cacheManager: new CacheManager([NO_STORAGE]) };
  const wllama = new Wllama({ default: WLLAMA_WASM }, config);
  return applyEngineBuild(wllama, build);
}

async function probeWebGPU() {
  if (!navigator.gpu) return { available: false, reason: "navigator.gpu is absent" };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { available: false, reason: "no WebGPU adapter" };
    const info = adapter.info || {};
    return {
      available: true,
      fallback: Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter),
      shaderF16: adapter.features.has("shader-f16"),
      description: [info.vendor, info.architecture, info.description].filter(Boolean).join(" "),
    };
  } catch (error) {
    return { available: false, reason: String(error) };
  }
}

/** What this browser offers the engine: threads, SIMD, JSPI, memory64, WebGPU. */
export async function probeEnvironment() {
  return {
    crossOriginIsolated: Boolean(globalThis.crossOriginIsolated),
    sharedArrayBuffer: typeof SharedArrayBuffer !== "undefined",
    hardwareConcurrency: navigator.hardwareConcurrency || 1,
    userAgent: navigator.userAgent,
    deviceMemoryGiB: navigator.deviceMemory ?? null,
    ...probeWasm(),
    webgpu: await probeWebGPU(),
  };
}

/**
 * Call `onRead` once, when wllama's worker first asks for bytes of `blob` (it reads the model
 * by `slice`s of it, for its `fs.read_req` messages); returns the function that stops
 * watching. wllama 3.8.1 slices the blob once on this thread before its worker exists
 * (`isMmproj`, the first 128 KiB), so the watch skips that first slice.
 */
export function watchEngineReads(blob, onRead) {
  const own = Object.hasOwn(blob, "slice") ? blob.slice : null; // a checked model's own reads
  const slice = blob.slice;
  const stop = () => {
    if (own) blob.slice = own;
    else delete blob.slice;
  };
  let slices = 0;
  blob.slice = (...args) => {
    slices += 1;
    if (slices === 2) {
      stop();
      onRead();
    }
    return slice.apply(blob, args);
  };
  return stop;
}
