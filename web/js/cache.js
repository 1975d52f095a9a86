// The JS half of the model cache: IndexedDB, Range downloads and hashing. No decisions here:
// py/localwebai/cache.py plans, resumes and verifies; py/localwebai/browser/cache_store.py
// calls these functions. Chunk bytes stay in Blobs and never reach Python.

import { createSHA256 } from "../vendor/hash-wasm/index.esm.min.js";

const DB_NAME = "localwebai";
const DB_VERSION = 1;
const MODELS = "models"; // records, keyPath "id"
const CHUNKS = "chunks"; // {modelId, index, blob}, keyPath ["modelId", "index"]
const PROGRESS_INTERVAL_MS = 100;

let database = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase() {
  if (database) return database;
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains(MODELS)) db.createObjectStore(MODELS, { keyPath: "id" });
    if (!db.objectStoreNames.contains(CHUNKS)) {
      db.createObjectStore(CHUNKS, { keyPath: ["modelId", "index"] });
    }
  };
  database = request(req).then((db) => {
    db.onversionchange = () => {
      db.close();
      database = null;
    };
    return db;
  });
  database.catch(() => {
    database = null;
  });
  return database;
}

/** Run `work(stores)` in one transaction; resolves when it commits, rejects with its error. */
async function transact(names, mode, work) {
  const db = await openDatabase();
  const tx = db.transaction(names, mode, { durability: "strict" });
  const stores = Object.fromEntries(names.map((name) => [name, tx.objectStore(name)]));
  const result = work(stores);
  await new Promise((resolve, reject) => {
    // A plain Error with the DOMException's name: Pyodide turns only Errors into exceptions.
    const fail = (event) => {
      const cause = event?.target?.error || tx.error;
      const error = new Error(cause?.message || "IndexedDB transaction failed");
      error.name = cause?.name || "UnknownError";
      reject(error);
    };
    tx.oncomplete = () => resolve();
    tx.onabort = fail;
    tx.onerror = fail;
  });
  return result instanceof IDBRequest ? result.result : result;
}

function modelChunks(modelId) {
  return IDBKeyRange.bound([modelId, 0], [modelId, Infinity]);
}

export const idb = {
  records: () => transact([MODELS], "readonly", (s) => s[MODELS].getAll()),
  putRecord: (record) => transact([MODELS], "readwrite", (s) => void s[MODELS].put(record)),
  deleteModel: (modelId) =>
    transact([MODELS, CHUNKS], "readwrite", (s) => {
      s[MODELS].delete(modelId);
      s[CHUNKS].delete(modelChunks(modelId));
    }),
  putChunk: (modelId, index, blob) =>
    transact([CHUNKS], "readwrite", (s) => void s[CHUNKS].put({ modelId, index, blob })),
  getChunk: async (modelId, index) => {
    const entry = await transact([CHUNKS], "readonly", (s) => s[CHUNKS].get([modelId, index]));
    return entry ? entry.blob : null;
  },
};

/** navigator.storage's usage and quota (bytes), and whether storage is persistent. */
export async function storageEstimate() {
  const { usage = 0, quota = 0 } = (await navigator.storage?.estimate?.()) || {};
  const persisted = Boolean(await navigator.storage?.persisted?.());
  return { usage, quota, persisted };
}

/** Ask the browser to keep our storage under pressure; resolves to its answer. */
export async function requestPersistence() {
  return Boolean(await navigator.storage?.persist?.());
}

/** Lowercase hex sha256 of a Blob (WebCrypto; the bytes stay in JS). */
export async function sha256Blob(blob) {
  return sha256Hex(await blob.arrayBuffer());
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const STREAM_PIECE = 16 << 20;

/** Hex sha256 of a Blob of any size, read 16 MiB at a time; `onBytes(n)` after each piece. */
export async function sha256Streamed(blob, { onBytes } = {}) {
  const hasher = await createSHA256();
  for (let start = 0; start < blob.size; start += STREAM_PIECE) {
    const piece = blob.slice(start, Math.min(start + STREAM_PIECE, blob.size));
    hasher.update(new Uint8Array(await piece.arrayBuffer()));
    onBytes?.(piece.size);
  }
  return hasher.digest("hex");
}

export function joinBlobs(blobs) {
  return new Blob(blobs, { type: "application/octet-stream" });
}

function validators(response) {
  const size = Number((response.headers.get("Content-Range") || "").split("/")[1]);
  const length = Number(response.headers.get("Content-Length"));
  return {
    size: response.status === 206 ? (Number.isFinite(size) ? size : null) : length || null,
    etag: response.headers.get("ETag"),
    lastModified: response.headers.get("Last-Modified"),
  };
}

function throttled(onBytes) {
  let pending = 0;
  let last = 0;
  return {
    add(n) {
      pending += n;
      const now = performance.now();
      if (now - last >= PROGRESS_INTERVAL_MS) {
        last = now;
        onBytes?.(pending);
        pending = 0;
      }
    },
    flush() {
      if (pending) onBytes?.(pending);
      pending = 0;
    },
  };
}

function httpFailure(response) {
  return { ok: false, status: response.status, statusText: response.statusText };
}

/**
 * Bytes [start, end) of `url` by a Range request, as a Blob with its sha256.
 * Resolves to {ok: true, ranged: true, blob, sha256, remote}, {ok: true, ranged: false, remote}
 * when the server ignored Range (the body is not read), or {ok: false, status, statusText};
 * rejects on a network failure or abort. `onBytes(n)` reports bytes as they arrive.
 */
export async function fetchChunk(url, start, end, { signal, onBytes } = {}) {
  const headers = { Range: `bytes=${start}-${end - 1}` };
  const response = await fetch(url, { signal, headers, cache: "no-store" });
  if (!response.ok) return httpFailure(response);
  const remote = validators(response);
  if (response.status !== 206) {
    await response.body?.cancel();
    return { ok: true, ranged: false, remote };
  }
  // One buffer of the chunk's size: hashed as it is, then wrapped in a Blob (no extra copies).
  const progress = throttled(onBytes);
  const bytes = new Uint8Array(end - start);
  let have = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (have + value.byteLength > bytes.length) {
      await reader.cancel();
      return { ok: true, ranged: true, blob: new Blob([bytes, value]), sha256: "", remote };
    }
    bytes.set(value, have);
    have += value.byteLength;
    progress.add(value.byteLength);
  }
  progress.flush();
  const view = bytes.subarray(0, have);
  return { ok: true, ranged: true, blob: new Blob([view]), sha256: await sha256Hex(view), remote };
}

/**
 * The whole of `url` in one response (for servers without Range support), cut into Blobs of
 * `chunkSize` handed in order to `await onChunk(index, blob, sha256, remote)`.
 * Resolves to {ok: true, remote} or {ok: false, status, statusText}; rejects on failure/abort.
 */
export async function streamChunks(url, chunkSize, { signal, onChunk, onBytes } = {}) {
  const response = await fetch(url, { signal, cache: "no-store" });
  if (!response.ok) return httpFailure(response);
  const remote = validators(response);
  const progress = throttled(onBytes);
  const reader = response.body.getReader();
  let parts = [];
  let have = 0;
  let index = 0;
  const emit = async () => {
    const blob = new Blob(parts);
    parts = [];
    have = 0;
    await onChunk(index++, blob, await sha256Blob(blob), remote);
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    progress.add(value.byteLength);
    let rest = value;
    while (have + rest.byteLength >= chunkSize) {
      const take = chunkSize - have;
      parts.push(rest.subarray(0, take));
      rest = rest.subarray(take);
      await emit();
    }
    if (rest.byteLength) {
      parts.push(rest);
      have += rest.byteLength;
    }
  }
  progress.flush();
  if (have) await emit();
  return { ok: true, remote };
}
