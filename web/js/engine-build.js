// Which llama.cpp WebAssembly build wllama runs, always from our own files (never a CDN):
//  - "default": wasm/wllama.wasm, needs JSPI and memory64 (Chromium, recent Firefox),
//  - "compat":  wasm/wllama-compat.wasm + vendor/wllama-compat/wllama.js (Asyncify, 32-bit memory)
//               for browsers without them (Safari), or forced with the page URL flag ?engine=compat.
const COMPAT = {
  worker: new URL("../vendor/wllama-compat/wllama.js", import.meta.url).href,
  wasm: new URL("../wasm/wllama-compat.wasm", import.meta.url).href,
};
const FORCE_PARAM = "engine";

function hasMemory64() {
  try {
    new WebAssembly.Memory({ address: "i64", initial: 1n });
    return true;
  } catch {
    return false;
  }
}

// wllama's own rule: compat where JSPI or memory64 is missing, except on Firefox (its "safari"
// mode), where the default build runs with a JSPI stub.
const NEEDS_COMPAT = !(WebAssembly.Suspending && hasMemory64());
const FIREFOX = /Firefox\/[0-9.]+(\s|$)/.test(navigator.userAgent);

function forced() {
  return new URLSearchParams(location.search).get(FORCE_PARAM) === "compat";
}

/** "compat" when the page asks for it (?engine=compat) or wllama will pick it; else "default". */
export function engineBuild() {
  return forced() || (NEEDS_COMPAT && !FIREFOX) ? "compat" : "default";
}

/** Point `wllama` at our compat files and, when the page forces it, make it use them. */
export function applyEngineBuild(wllama) {
  wllama.setCompat(COMPAT, forced() ? "firefox_safari" : "safari");
  if (forced() && !NEEDS_COMPAT) {
    // wllama only switches to compat where the browser lacks a feature: override its choice
    // (getWorkerResources, wllama 3.8.1) so the compat build also runs here.
    const resources = wllama.getWorkerResources.bind(wllama);
    wllama.getWorkerResources = () => ({
      ...resources(),
      wasmPath: COMPAT.wasm,
      jsPath: COMPAT.worker,
      compat: true,
    });
  }
  return wllama;
}
