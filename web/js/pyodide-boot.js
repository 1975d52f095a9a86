// PyScript's interpreter module (web/pyscript.json, "interpreter"): the vendored Pyodide's
// loadPyodide, started from a memory snapshot of a fresh Pyodide where this browser has one.
// This is the one step that runs before Python exists, so it decides alone and simply: a
// snapshot of this Pyodide version is used if it restores, and one that fails is deleted and the
// normal start follows. Python makes the snapshot after a normal start
// (py/localwebai/browser/boot.py → saveBootSnapshot), in a worker, so the page never waits.
import * as pyodide from "../vendor/pyodide/pyodide.mjs";

export const version = pyodide.version; // PyScript reads it from this module

const INDEX_URL = new URL("../vendor/pyodide/", import.meta.url).href;
const WORKER_URL = new URL("./pyodide-snapshot-worker.js", import.meta.url).href;
const DB_NAME = "localwebai-boot"; // its own database: clearing the model cache keeps it
const STORE = "snapshots"; // key: Pyodide version, value: Uint8Array
const record = { source: "normal", snapshotError: null };

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(mode, action) {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await request(open);
  try {
    const transaction = db.transaction(STORE, mode);
    const result = await request(action(transaction.objectStore(STORE)));
    await new Promise((resolve, reject) => {
      transaction.oncomplete = resolve;
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    });
    return result;
  } finally {
    db.close();
  }
}

async function storedSnapshot() {
  try {
    return (await withStore("readonly", (store) => store.get(version))) ?? null;
  } catch {
    return null; // no IndexedDB here (a private window): start normally
  }
}

/** loadPyodide as PyScript calls it, from this version's snapshot where one restores. */
export async function loadPyodide(options) {
  const settings = { ...options, indexURL: INDEX_URL };
  const snapshot = await storedSnapshot();
  let instance = null;
  if (snapshot) {
    try {
      instance = await pyodide.loadPyodide({ ...settings, _loadSnapshot: snapshot });
      record.source = "snapshot";
    } catch (error) {
      record.snapshotError = String(error?.message ?? error);
      await withStore("readwrite", (store) => store.delete(version)).catch(() => {});
    }
  }
  instance ??= await pyodide.loadPyodide(settings);
  return instance;
}

/** How Pyodide started in this page: {source: "snapshot" | "normal", snapshotError}. */
export function bootRecord() {
  return { ...record };
}

/**
 * Make and store a snapshot of a fresh Pyodide in a worker (about one core-second, 31 MB);
 * resolves to its size in bytes.
 */
export function saveBootSnapshot() {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { type: "module" });
    const finish = (settle, value) => {
      worker.terminate();
      settle(value);
    };
    worker.onmessage = ({ data }) => {
      if (data.error) finish(reject, new Error(data.error));
      else
        withStore("readwrite", (store) => store.put(data.snapshot, version)).then(
          () => finish(resolve, data.snapshot.byteLength),
          (error) => finish(reject, error),
        );
    };
    worker.onerror = (event) => finish(reject, new Error(event.message || "the worker failed"));
    worker.postMessage({ indexURL: INDEX_URL });
  });
}
