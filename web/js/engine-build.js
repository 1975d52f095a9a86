// The llama.cpp WebAssembly builds wllama runs, always from our own files (never a CDN); which
// one a model loads with is decided in Python (py/localwebai/environment.py: WASM_BUILDS,
// Environment.build_for) from what probeWasm() reports (wasm-features.js probes). Here: pointing
// wllama at the chosen build's files. ?engine=<a WASM_BUILDS name> is reported as `forcedBuild`.
// `memory64` tells wllama's worker how the build addresses memory (its "compat" flag is 32-bit).
// Every build's worker also starts with `freeFileReads` (below), which frees the model's bytes
// as soon as the engine has copied them.
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

/**
 * Runs first in wllama's worker (its source goes ahead of the engine's JS). The worker reads
 * the model by `fs.read_res` messages, one ArrayBuffer per tensor (up to the whole embedding
 * matrix), copies each into wasm memory and drops it; but a worker busy in wasm hardly ever
 * collects garbage, so the dropped buffers stayed: about a quarter of the model file's size
 * while it loaded (docs/performance.md, ninth sitting). Each is freed on the next task, after
 * wllama's own handler has resumed the engine and the copy is done, by transferring it into a
 * closed channel. `self.freedReadBytes` counts what was freed.
 */
function freeFileReads() {
  self.freedReadBytes = 0;
  self.addEventListener("message", ({ data }) => {
    const bytes = data?.verb === "fs.read_res" ? data.args?.[0] : null;
    if (!(bytes instanceof ArrayBuffer)) return;
    setTimeout(() => {
      const size = bytes.byteLength;
      if (size === 0) return; // detached already
      const { port1, port2 } = new MessageChannel();
      port1.close();
      port2.postMessage(null, [bytes]);
      port2.close();
      self.freedReadBytes += size;
    });
  });
}

const workerSources = new Map(); // engine JS URL -> Promise<its source, after freeFileReads>

/** The worker source for an engine's JS, fetched once per page. */
function workerSource(url) {
  if (!workerSources.has(url)) {
    const source = fetch(url).then((response) => {
      if (!response.ok) throw new Error(`Failed to fetch worker code from ${url}`);
      return response.text();
    });
    workerSources.set(url, source.then((text) => `(${freeFileReads})();\n${text}`));
    source.catch(() => workerSources.delete(url));
  }
  return workerSources.get(url);
}

/** Point `wllama` at our files for `build` (a key of BUILDS, or "default"). */
export function applyEngineBuild(wllama, build) {
  wllama.setCompat(BUILDS.compat, build === "compat" ? "firefox_safari" : "safari");
  const own = build === "compat" ? !NEEDS_COMPAT : build in BUILDS;
  // wllama picks compat only where the browser lacks a feature: override its choice
  // (getWorkerResources, wllama 3.8.1) to run our files. Its worker takes `jsPath.code` as the
  // engine's source; wllama awaits it, so it may be a promise. "default" (wllama's own build,
  // for WebGPU) has its source inside wllama and runs as it is.
  const resources = wllama.getWorkerResources.bind(wllama);
  wllama.getWorkerResources = () => {
    const chosen = { ...resources() };
    if (own) {
      chosen.wasmPath = BUILDS[build].wasm;
      chosen.jsPath = BUILDS[build].worker;
      chosen.compat = !BUILDS[build].memory64;
    }
    if (typeof chosen.jsPath === "string") chosen.jsPath = { code: workerSource(chosen.jsPath) };
    return chosen;
  };
  return wllama;
}
