// The JS half of the model cache: IndexedDB, storage estimates and hashing (its downloads are
// in http.js). No decisions here: py/localwebai/cache.py plans, resumes and verifies;
// py/localwebai/browser/cache_store.py calls these functions. Chunk bytes stay in Blobs.

import { createSHA256, createXXHash3 } from "../vendor/hash-wasm/index.esm.min.js";

const DB_NAME = "localwebai";
const DB_VERSION = 1;
const MODELS = "models"; // records, keyPath "id"
const CHUNKS = "chunks"; // {modelId, index, blob} or {modelId, index, bytes}, keyPath ["modelId", "index"]

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
  // `asBytes`: store the chunk's bytes (an ArrayBuffer), for databases that refuse Blobs
  putChunk: async (modelId, index, blob, asBytes = false) => {
    const entry = asBytes ? { modelId, index, bytes: await blob.arrayBuffer() } : { modelId, index, blob };
    return transact([CHUNKS], "readwrite", (s) => void s[CHUNKS].put(entry));
  },
  getChunk: async (modelId, index) => {
    const entry = await transact([CHUNKS], "readonly", (s) => s[CHUNKS].get([modelId, index]));
    if (!entry) return null;
    return entry.blob ?? new Blob([entry.bytes]);
  },
};

/** navigator.storage's usage and quota (bytes; `known` false where the browser has no
 * estimate), and whether storage is persistent. */
export async function storageEstimate() {
  const known = typeof navigator.storage?.estimate === "function";
  const { usage = 0, quota = 0 } = (known && (await navigator.storage.estimate())) || {};
  const persisted = Boolean(await navigator.storage?.persisted?.());
  return { known, usage, quota, persisted };
}

/** Ask the browser to keep our storage under pressure; resolves to its answer. */
export async function requestPersistence() {
  return Boolean(await navigator.storage?.persist?.());
}

let xxh3 = null; // one hash-wasm instance: init, update and digest run with no await between

/**
 * Lowercase hex digest of bytes (an ArrayBuffer or a view) in `algorithm`, the one
 * py/localwebai/cache.py chose: "xxh3" (hash-wasm's XXH3-64, seed 0) or "sha256" (WebCrypto).
 */
export async function digestHex(bytes, algorithm) {
  if (algorithm === "xxh3") {
    xxh3 ??= await createXXHash3();
    xxh3.init();
    xxh3.update(ArrayBuffer.isView(bytes) ? bytes : new Uint8Array(bytes));
    return xxh3.digest("hex");
  }
  if (algorithm !== "sha256") throw new Error(`unknown digest ${algorithm}`);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hex digest of a Blob (a chunk: read whole; the bytes stay in JS). */
export async function digestBlob(blob, algorithm) {
  return digestHex(await blob.arrayBuffer(), algorithm);
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

const KEPT_CHUNKS = 2; // chunk buffers kept while the engine reads: the one it reads, the last

/**
 * The model for the engine as one Blob whose bytes are checked as the engine reads them: the
 * first read that touches chunk i reads that chunk whole, hashes it (`expected[i]`:
 * [algorithm, hex], as py/localwebai/cache.py chose) and serves it only if it matches; a
 * damaged chunk fails that read (the engine's load fails) and is listed by `damaged()`.
 * Each chunk is read from storage and hashed once, not once to check and once to load.
 * `onChecked(bytes)` after each chunk that matched; `unread()`: the chunks not read yet.
 * Only `slice(...).arrayBuffer()` and `stream()` are served checked: what wllama reads with.
 */
export function checkedModel(parts, expected, onChecked) {
  const starts = [];
  let size = 0;
  for (const part of parts) {
    starts.push(size);
    size += part.size;
  }
  const checked = new Set();
  const damaged = new Set();
  const kept = new Map(); // index -> Promise<ArrayBuffer>, most recent last

  function chunk(index) {
    let bytes = kept.get(index);
    if (bytes) {
      kept.delete(index);
    } else {
      bytes = readChecked(index);
      bytes.catch(() => kept.delete(index));
    }
    kept.set(index, bytes);
    while (kept.size > KEPT_CHUNKS) kept.delete(kept.keys().next().value);
    return bytes;
  }

  async function readChecked(index) {
    const bytes = await parts[index].arrayBuffer();
    if (!checked.has(index)) {
      const [algorithm, hex] = expected[index];
      if ((await digestHex(bytes, algorithm)) !== hex) {
        damaged.add(index);
        throw new Error(`chunk ${index + 1} of ${parts.length} of the cached model is damaged`);
      }
      checked.add(index);
      onChecked(bytes.byteLength);
    }
    return bytes;
  }

  async function read(start, end) {
    const out = new Uint8Array(end - start);
    let index = starts.findLastIndex((s) => s <= start);
    for (let at = start; at < end; index += 1) {
      const bytes = await chunk(index);
      const from = at - starts[index];
      const to = Math.min(end - starts[index], bytes.byteLength);
      out.set(new Uint8Array(bytes, from, to - from), at - start);
      at += to - from;
    }
    return out.buffer;
  }

  const blob = joinBlobs(parts);
  const clamp = (at, fallback) => {
    const value = at ?? fallback;
    return Math.min(size, Math.max(0, value < 0 ? size + value : value));
  };
  blob.slice = (start, end) => {
    const [from, to] = [clamp(start, 0), clamp(end, size)];
    return { size: Math.max(0, to - from), arrayBuffer: () => read(from, Math.max(from, to)) };
  };
  blob.stream = () => {
    let index = 0;
    return new ReadableStream({
      async pull(controller) {
        if (index === parts.length) return controller.close();
        controller.enqueue(new Uint8Array(await chunk(index++)));
      },
    });
  };
  return {
    blob,
    damaged: () => [...damaged].sort((a, b) => a - b),
    unread: () => parts.map((_, i) => i).filter((i) => !checked.has(i) && !damaged.has(i)),
  };
}
