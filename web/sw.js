// LocalWebAI's service worker, registered only in a static build (`python -m localwebai build`):
//  - precaches the app shell (page, CSS, our Python, Pyodide, PyScript, wllama and its wasm) in a
//    cache named after the build's content hash, verifies every file against the build's sha256,
//    reuses unchanged files from the previous version, and serves the shell offline;
//  - on activation deletes this app's older caches and takes control of open pages; a new version
//    waits until the page asks for it ("update-ready" → the page's notice → "skip-waiting");
//  - adds COOP/COEP/CORP headers to what it serves, so a host that sends none still gets
//    crossOriginIsolated (and threads) after one reload; a build made with --host-sends-headers
//    keeps the host's own headers instead (e.g. a COEP of its choice) and never reloads;
//  - leaves everything else alone: model files (.gguf, anything the build did not list), requests
//    with a Range header, other origins and non-GET requests go to the network untouched, so model
//    bytes are never cached twice (the app keeps them in IndexedDB).

// The build replaces the next line with the precache manifest:
// {version, isolate, files: [{path, sha256, size, type}], builds: {build: [path]},
//  snapshots: {path: needsJspi}}.
const PRECACHE = null; // @precache-manifest
if (!PRECACHE) throw new Error("sw.js runs only in a build made by `python -m localwebai build`");

const SCOPE = new URL("./", self.location.href); // sw.js sits at the app's root
const CACHE_PREFIX = `localwebai-shell:${SCOPE.pathname}:`; // one app per sub-path of an origin
const CACHE_NAME = CACHE_PREFIX + PRECACHE.version;
const DIGEST_HEADER = "X-LocalWebAI-SHA256";
const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};
const BODY_HEADERS = ["Content-Encoding", "Content-Length", "Transfer-Encoding"];
const PARALLEL_FETCHES = 4;

const FILES = new Map(PRECACHE.files.map((file) => [new URL(file.path, SCOPE).pathname, file]));
FILES.set(SCOPE.pathname, FILES.get(new URL("index.html", SCOPE).pathname));

importScripts("js/wasm-features.js"); // self.wasmFeatures: the page's own probes

// Each engine build is precached only where this browser uses it (the rule of
// py/localwebai/environment.py, Environment.build_for): ours with JSPI (the relaxed-SIMD one
// where relaxed SIMD validates, else the SIMD128 one), our memory64 one with JSPI and memory64
// (relaxed likewise),
// our Asyncify one with SIMD128 but no JSPI (Safari), wllama's scalar compat (16 MB) with
// neither SIMD128 nor JSPI and memory64. Elsewhere a build is cached when first used (a model
// of 2 GiB or more without memory64, ?engine=).
const { simd, relaxedSimd, jspi, memory64 } = self.wasmFeatures;
const USED_HERE = {
  "simd-relaxed": jspi && relaxedSimd,
  simd: jspi && !relaxedSimd,
  "simd64-relaxed": jspi && memory64 && relaxedSimd,
  simd64: jspi && memory64 && !relaxedSimd,
  "simd-asyncify": simd && !jspi,
  compat: !simd && !(jspi && memory64),
  default: true, // wllama's, for WebGPU
};
const BUILD_OF = new Map(
  Object.entries(PRECACHE.builds).flatMap(([build, paths]) => paths.map((path) => [path, build])),
);
// Python's start ships as two snapshots (web/js/pyodide-boot.js): only this browser's is cached
const SNAPSHOT_NEEDS_JSPI = new Map(Object.entries(PRECACHE.snapshots));
const precached = (file) =>
  (!BUILD_OF.has(file.path) || USED_HERE[BUILD_OF.get(file.path)]) &&
  (!SNAPSHOT_NEEDS_JSPI.has(file.path) || SNAPSHOT_NEEDS_JSPI.get(file.path) === jspi);

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

function urlOf(file) {
  return new URL(file.path, SCOPE).href;
}

/**
 * The file from the network, checked against the build's sha256, as a response to cache: the
 * host's headers (so a host's own COOP/COEP survive offline), the build's MIME type (so a host
 * with a wrong one for .wasm or .mjs still works once cached) and the digest.
 */
async function fetchVerified(file) {
  const response = await fetch(urlOf(file), { cache: "reload" });
  if (!response.ok) throw new Error(`${file.path}: HTTP ${response.status}`);
  const body = await response.arrayBuffer();
  const digest = hex(await crypto.subtle.digest("SHA-256", body));
  if (digest !== file.sha256) {
    throw new Error(`${file.path}: the server's copy is not the one of build ${PRECACHE.version}`);
  }
  const headers = new Headers(response.headers);
  for (const name of BODY_HEADERS) headers.delete(name); // the body is stored decoded
  headers.set("Content-Type", file.type);
  headers.set(DIGEST_HEADER, digest);
  return new Response(body, { headers });
}

/** An unchanged copy of the file in one of this app's older caches, if any. */
async function previousCopy(file, oldCaches) {
  for (const cache of oldCaches) {
    const hit = await cache.match(urlOf(file));
    if (hit && hit.headers.get(DIGEST_HEADER) === file.sha256) return hit;
  }
  return null;
}

async function precache() {
  const cache = await caches.open(CACHE_NAME);
  const names = (await caches.keys()).filter((n) => n.startsWith(CACHE_PREFIX) && n !== CACHE_NAME);
  const oldCaches = await Promise.all(names.map((name) => caches.open(name)));
  const queue = PRECACHE.files.filter(precached);
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      if (await cache.match(urlOf(file))) continue; // an earlier, interrupted install got it
      const response = (await previousCopy(file, oldCaches)) || (await fetchVerified(file));
      await cache.put(urlOf(file), response);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_FETCHES }, worker));
}

async function tellPages(message) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) page.postMessage(message);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      await precache();
      // an update waits for the page's go-ahead; the first version activates at once
      if (self.registration.active) await tellPages({ type: "update-ready", version: PRECACHE.version });
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      const old = names.filter((n) => n.startsWith(CACHE_PREFIX) && n !== CACHE_NAME);
      await Promise.all(old.map((name) => caches.delete(name)));
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "skip-waiting") self.skipWaiting();
});

function withIsolation(response) {
  if (!PRECACHE.isolate) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  const { status, statusText } = response;
  return new Response(response.body, { status, statusText, headers });
}

async function serveShell(file) {
  const cache = await caches.open(CACHE_NAME);
  let response = await cache.match(urlOf(file));
  if (!response) {
    response = await fetchVerified(file); // a build not precached here, used for the first time
    await cache.put(urlOf(file), response.clone());
  }
  return withIsolation(response);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || request.headers.has("Range")) return;
  const url = new URL(request.url);
  if (url.origin !== SCOPE.origin || url.pathname.endsWith(".gguf")) return;
  const file = FILES.get(url.pathname);
  if (file) event.respondWith(serveShell(file));
});
