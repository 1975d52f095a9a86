// Downloads, with no decisions: whole files into Blobs, byte ranges, and the model cache's
// chunks (py/localwebai/cache.py plans them; py/localwebai/browser/blobs.py and cache_store.py
// call these). Bytes stay in Blobs and never reach Python, except header ranges.

import { digestBlob, digestHex } from "./cache.js";

const PROGRESS_INTERVAL_MS = 100;

/** The whole file's size from a Content-Range header ("bytes a-b/size"), or null. */
function contentRangeSize(response) {
  const size = Number((response.headers.get("Content-Range") || "").split("/")[1]);
  return Number.isFinite(size) && size >= 0 ? size : null;
}

function validators(response) {
  const length = Number(response.headers.get("Content-Length"));
  return {
    size: response.status === 206 ? contentRangeSize(response) : length || null,
    etag: response.headers.get("ETag"),
    lastModified: response.headers.get("Last-Modified"),
  };
}

/** `onBytes(n)` at most every PROGRESS_INTERVAL_MS, with the bytes added since the last call. */
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
 * Download `url` into a Blob, reporting (received, total) as bytes arrive.
 * Resolves to {ok: true, blob} or {ok: false, status, statusText} for an HTTP error;
 * rejects on network failure or abort (the AbortSignal's reason).
 */
export async function fetchBlob(url, { signal, onProgress } = {}) {
  const response = await fetch(url, { signal });
  if (!response.ok) return httpFailure(response);
  const total = Number(response.headers.get("Content-Length")) || 0;
  let received = 0;
  const progress = throttled((n) => {
    received += n;
    onProgress?.(received, total);
  });
  const reader = response.body.getReader();
  const parts = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    progress.add(value.byteLength);
  }
  progress.flush();
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
    return { ok: true, bytes: new Uint8Array(0), size: contentRangeSize(response) };
  }
  if (!response.ok) return httpFailure(response);
  if (response.status === 206) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { ok: true, bytes, size: contentRangeSize(response) };
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

/**
 * Bytes [start, end) of `url` by a Range request, as a Blob with its `algorithm` digest (hex).
 * Resolves to {ok: true, ranged: true, cut: false, blob, digest, remote};
 * {ok: true, ranged: true, cut: true, aborted, message, blob, remote} when the transfer broke off
 * after the response began (a dropped connection, or Cancel: `aborted`), `blob` holding the
 * bytes that arrived, so the caller asks only for the rest; {ok: true, ranged: false, remote}
 * when the server ignored Range (the body is not read); or {ok: false, status, statusText}.
 * Rejects when no response came (network failure, abort). `onBytes(n)` reports bytes as they
 * arrive. With `whole`, the body becomes a Blob inside the browser (`Response.blob()`: its bytes
 * never reach this page, which is cheaper) and is hashed afterwards; `onBytes` then reports
 * once, and a cut keeps nothing (py/localwebai/cache.py's WHOLE_CHUNK_RATE decides).
 */
export async function fetchChunk(url, start, end, { signal, onBytes, algorithm, whole } = {}) {
  const headers = { Range: `bytes=${start}-${end - 1}` };
  const response = await fetch(url, { signal, headers, cache: "no-store" });
  if (!response.ok) return httpFailure(response);
  const remote = validators(response);
  if (response.status !== 206) {
    await response.body?.cancel();
    return { ok: true, ranged: false, remote };
  }
  if (whole) return wholeChunk(response, remote, { signal, onBytes, algorithm });
  // One buffer of the chunk's size: hashed as it is, then wrapped in a Blob (no extra copies).
  const progress = throttled(onBytes);
  const bytes = new Uint8Array(end - start);
  let have = 0;
  let failure = null;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (have + value.byteLength > bytes.length) {
        await reader.cancel();
        return { ok: true, ranged: true, cut: false, blob: new Blob([bytes, value]), digest: "", remote };
      }
      bytes.set(value, have);
      have += value.byteLength;
      progress.add(value.byteLength);
    }
  } catch (error) {
    failure = error; // keep what arrived
  }
  progress.flush();
  const view = bytes.subarray(0, have);
  const blob = new Blob([view]);
  if (failure) return cutChunk(failure, signal, blob, remote);
  const digest = await digestHex(view, algorithm);
  return { ok: true, ranged: true, cut: false, blob, digest, remote };
}

/** fetchChunk's answer for a transfer that broke off after `blob` (Cancel: `aborted`). */
function cutChunk(failure, signal, blob, remote) {
  const aborted = failure?.name === "AbortError" || Boolean(signal?.aborted);
  const message = String(failure?.message || failure);
  return { ok: true, ranged: true, cut: true, aborted, message, blob, remote };
}

/** fetchChunk's `whole` way: the body as a Blob made by the browser, then hashed. */
async function wholeChunk(response, remote, { signal, onBytes, algorithm }) {
  let blob;
  try {
    blob = await response.blob();
  } catch (failure) {
    return cutChunk(failure, signal, new Blob([]), remote);
  }
  onBytes?.(blob.size);
  return { ok: true, ranged: true, cut: false, blob, digest: await digestBlob(blob, algorithm), remote };
}

/**
 * The whole of `url` in one response (for servers without Range support), cut into Blobs of
 * `chunkSize` handed in order to `await onChunk(index, blob, digest, remote)` (hex, in
 * `algorithm`).
 * Resolves to {ok: true, remote} or {ok: false, status, statusText}; rejects on failure/abort.
 */
export async function streamChunks(url, chunkSize, { signal, onChunk, onBytes, algorithm } = {}) {
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
    await onChunk(index++, blob, await digestBlob(blob, algorithm), remote);
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
