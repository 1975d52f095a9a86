// The bare-wllama side of scripts/bench.py: the same vendored wllama and wasm as the app, called
// directly from JS. Playwright drives it through window.bench; every call resolves to plain data.
import { Wllama } from "/vendor/wllama/index.js";
import { applyEngineBuild, probeWasm } from "/js/engine-build.js";

const WASM = new URL("/wasm/wllama.wasm", location.href).href;
let wllama = null;

// `build`: the app's choice for this model on the CPU, made by scripts/bench.py with the app's
// own rule (Environment.build_for) from probe()
function createWllama(build) {
  return applyEngineBuild(new Wllama({ default: WASM }, { suppressNativeLog: true }), build);
}

window.bench = {
  /** What the build choice depends on: wasm features, ?engine=, the user agent. */
  probe: () => ({ ...probeWasm(), userAgent: navigator.userAgent }),

  /** Download (or, with useCache, read from wllama's OPFS cache) and load; times the whole. */
  async load(url, { nThreads, nCtx, useCache, build }) {
    if (wllama) await wllama.exit();
    wllama = createWllama(build);
    const start = performance.now();
    await wllama.loadModelFromUrl(url, {
      n_threads: nThreads, n_ctx: nCtx, n_gpu_layers: 0, useCache,
    });
    return {
      load_ms: performance.now() - start,
      threads: wllama.getNumThreads(),
      multithread: wllama.isMultithread(),
    };
  },

  /** One greedy completion (streamed, like the app); returns the engine's timings. */
  async complete(prompt, maxTokens) {
    let timings = null;
    let chunks = 0;
    await wllama.createCompletion({
      prompt, max_tokens: maxTokens, temperature: 0, top_k: 1, stream: true,
      onData: (chunk) => {
        chunks += 1;
        if (chunk.timings) timings = chunk.timings;
      },
    });
    return { timings, chunks };
  },

  /** A plain fetch() of the whole file into memory: the download-speed reference. */
  async fetchPlain(url) {
    const start = performance.now();
    const response = await fetch(url, { cache: "no-store" });
    const bytes = (await response.arrayBuffer()).byteLength;
    return { bytes, ms: performance.now() - start };
  },
};
document.body.dataset.state = "ready";
