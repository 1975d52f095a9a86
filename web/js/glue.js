// Thin JS glue for the Python UI. Only what must be JS lives here:
//  - streaming a model download into a Blob (model bytes never pass through Python),
//  - feature probes that need JS-only APIs (wasm validation, WebGPU adapter),
//  - constructing wllama with our own wasm builds and no CDN fallback.
// Everything else (decisions, errors, UI) is Python: see py/localwebai/browser/.
import { CacheManager, Wllama } from "../vendor/wllama/index.js";
import { HAS_SIMD, applyEngineBuild, engineBuild, hasMemory64 } from "./engine-build.js";

export { engineBuild };

export * from "./cache.js";

const PROGRESS_INTERVAL_MS = 100;
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

/** A new wllama instance on our files for `build` (see engine-build.js: engineBuild). */
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
    deviceMemoryGiB: navigator.deviceMemory ?? null,
    simd: HAS_SIMD,
    jspi: Boolean(WebAssembly.Suspending),
    memory64: hasMemory64(),
    engineBuild: engineBuild(false),
    gpuEngineBuild: engineBuild(true),
    webgpu: await probeWebGPU(),
  };
}

/**
 * Download `url` into a Blob, reporting (received, total) as bytes arrive.
 * Resolves to {ok: true, blob} or {ok: false, status, statusText} for an HTTP error;
 * rejects on network failure or abort (the AbortSignal's reason).
 */
export async function fetchBlob(url, { signal, onProgress } = {}) {
  const response = await fetch(url, { signal });
  if (!response.ok) return { ok: false, status: response.status, statusText: response.statusText };
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const parts = [];
  let received = 0;
  let reported = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.byteLength;
    const now = performance.now();
    if (now - reported >= PROGRESS_INTERVAL_MS) {
      reported = now;
      onProgress?.(received, total);
    }
  }
  onProgress?.(received, total);
  const type = response.headers.get("Content-Type") || "application/octet-stream";
  return { ok: true, blob: new Blob(parts, { type }) };
}

/**
 * Bytes [start, end) of `url` without downloading the rest: an HTTP Range request, or, when the
 * server ignores Range and answers 200, the start of the body read until `end`, then cancelled.
 * Resolves to {ok: true, bytes, size} (size: the whole file's, null if unknown) or
 * {ok: false, status, statusText}; rejects on network failure or abort.
 */
export async function fetchRange(url, start, end, { signal } = {}) {
  const headers = { Range: `bytes=${start}-${end - 1}` };
  const response = await fetch(url, { signal, headers });
  if (response.status === 416) {
    return { ok: true, bytes: new Uint8Array(0), size: totalSize(response) };
  }
  if (!response.ok) return { ok: false, status: response.status, statusText: response.statusText };
  if (response.status === 206) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { ok: true, bytes, size: totalSize(response) };
  }
  const length = Number(response.headers.get("Content-Length"));
  const reader = response.body.getReader();
  const head = new Uint8Array(end);
  let have = 0;
  while (have < end) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.byteLength, end - have);
    head.set(value.subarray(0, take), have);
    have += take;
  }
  await reader.cancel();
  return { ok: true, bytes: head.subarray(start, have), size: length || null };
}

/** The whole file's size from a Content-Range header ("bytes a-b/size"), or null. */
function totalSize(response) {
  const size = Number((response.headers.get("Content-Range") || "").split("/")[1]);
  return Number.isFinite(size) && size >= 0 ? size : null;
}
