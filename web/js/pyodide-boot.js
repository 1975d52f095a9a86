// PyScript's interpreter module (web/pyscript.json, "interpreter"): the vendored Pyodide's
// loadPyodide, started from a memory snapshot of a fresh Pyodide that ships with the site
// (web/boot/, made by scripts/make_boot_snapshot.py; localwebai.tooling.boot_snapshot).
// This is the one step that runs before Python exists, so it decides alone and simply: the
// snapshot of this Pyodide version is used if it arrives and restores, else the normal start
// follows (only slower). index.html runs this module first, so the snapshot's fetch and
// gunzip overlap PyScript's own start.
import * as pyodide from "../vendor/pyodide/pyodide.mjs";
import "./wasm-features.js"; // self.wasmFeatures

export const version = pyodide.version; // PyScript reads it from this module

const INDEX_URL = new URL("../vendor/pyodide/", import.meta.url).href;
// one snapshot for browsers with JSPI, made in Chromium, one for the others, made in WebKit
const KIND = self.wasmFeatures.jspi ? "jspi" : "no-jspi";
const SNAPSHOT_NAME = `pyodide-${version}-${KIND}.snapshot.gz`;
const SNAPSHOT_URL = new URL(`../boot/${SNAPSHOT_NAME}`, import.meta.url).href;
const GZIP_MAGIC = [0x1f, 0x8b];
const record = { source: "normal", snapshotError: null };

/**
 * Free an ArrayBuffer now, whoever still references it (Pyodide keeps the snapshot it restored
 * in its config for good): transferred into a closed channel, as engine-build.js's
 * freeFileReads frees the model's reads. Else 31 MB stay in the page's memory.
 */
function free(buffer) {
  const { port1, port2 } = new MessageChannel();
  port1.close();
  port2.postMessage(null, [buffer]);
  port2.close();
}

/** The snapshot's heap bytes, or null (the reason in the record). */
async function shippedSnapshot() {
  try {
    const response = await fetch(SNAPSHOT_URL);
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${SNAPSHOT_URL}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    // a host that sends .gz files with Content-Encoding: gzip has unpacked it already
    if (bytes[0] !== GZIP_MAGIC[0] || bytes[1] !== GZIP_MAGIC[1]) return bytes;
    const unpacked = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    free(bytes.buffer);
    return new Uint8Array(await new Response(unpacked).arrayBuffer());
  } catch (error) {
    record.snapshotError = String(error?.message ?? error);
    return null;
  }
}

let snapshot = shippedSnapshot(); // started as the page loads, awaited by loadPyodide

// Until 2026-12 the browser saved its own snapshot here (31 MB); nothing reads it any more.
try {
  globalThis.indexedDB?.deleteDatabase("localwebai-boot");
} catch {} // no storage in this window: nothing to delete

/** loadPyodide as PyScript calls it, from the shipped snapshot where it restores. */
export async function loadPyodide(options) {
  const settings = { ...options, indexURL: INDEX_URL };
  const heap = await snapshot;
  snapshot = null;
  if (heap) {
    try {
      const instance = await pyodide.loadPyodide({ ...settings, _loadSnapshot: heap });
      instance.runPython("import random; random.seed()"); // not the seed every visitor shares
      record.source = "snapshot";
      return instance;
    } catch (error) {
      record.snapshotError = String(error?.message ?? error);
    } finally {
      free(heap.buffer); // copied into Pyodide's memory, or of no use
    }
  }
  return pyodide.loadPyodide(settings);
}

/** How Pyodide started in this page: {source: "snapshot" | "normal", snapshotError}. */
export function bootRecord() {
  return { ...record };
}
