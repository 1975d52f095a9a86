// Registers the service worker (../sw.js) of a static build and shows the offline status.
// A classic script in <head>, so it runs before PyScript starts. In a source checkout BUILD stays
// null and nothing is registered: serve.py sends the isolation headers itself and development
// never sees cached files. See web/sw.js for what the worker does.
(() => {
  "use strict";
  // The build replaces the next line with {version, isolate}.
  const BUILD = null; // @build-settings
  if (!BUILD || !("serviceWorker" in navigator)) return;

  const RELOAD_KEY = "localwebai:isolation-reload"; // at most one automatic reload per tab
  const container = navigator.serviceWorker;
  let saved = false; // the worker of this build controls the page
  let failed = "";
  let updateRequested = false;

  function whenParsed(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function showStatus() {
    whenParsed(() => {
      const status = document.getElementById("offline-status");
      const state = failed ? "failed" : saved ? "ready" : "saving";
      const text = {
        failed: `Not available offline: ${failed}`,
        ready: `Available offline (build ${BUILD.version.slice(0, 8)})`,
        saving: "Saving the app for offline use…",
      }[state];
      status.textContent = navigator.onLine ? text : `Offline · ${text}`;
      status.dataset.state = state;
      status.dataset.version = BUILD.version;
      status.dataset.network = navigator.onLine ? "online" : "offline";
      status.hidden = false;
    });
  }

  function showUpdate(registration) {
    whenParsed(() => {
      document.getElementById("update-reload").onclick = () => {
        updateRequested = true;
        registration.waiting?.postMessage({ type: "skip-waiting" });
      };
      document.getElementById("update-notice").hidden = false;
    });
  }

  /** Reload once so the worker's COOP/COEP headers apply; false when not needed or done before. */
  function reloadForIsolation() {
    if (!BUILD.isolate || globalThis.crossOriginIsolated || sessionStorage.getItem(RELOAD_KEY)) {
      return false;
    }
    sessionStorage.setItem(RELOAD_KEY, "1");
    location.reload();
    return true;
  }

  if (globalThis.crossOriginIsolated) sessionStorage.removeItem(RELOAD_KEY);
  saved = Boolean(container.controller);
  showStatus();
  addEventListener("online", showStatus);
  addEventListener("offline", showStatus);

  container.addEventListener("controllerchange", () => {
    if (updateRequested) {
      location.reload();
      return;
    }
    saved = true;
    if (!reloadForIsolation()) showStatus();
  });

  const registered = container.register("./sw.js");
  container.addEventListener("message", (event) => {
    if (event.data?.type === "update-ready") registered.then(showUpdate);
  });
  registered.then(
    (registration) => {
      if (registration.waiting && container.controller) showUpdate(registration);
      // active but not isolated: a hard reload bypassed the worker, or a first reload is due
      if (registration.active) reloadForIsolation();
      const installing = registration.installing;
      installing?.addEventListener("statechange", () => {
        if (installing.state === "redundant" && !container.controller) {
          failed = "the app's files could not be saved (see the console)";
          showStatus();
        }
      });
    },
    (error) => {
      failed = String(error.message || error);
      showStatus();
    },
  );
})();
