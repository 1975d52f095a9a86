// Makes a memory snapshot of a fresh Pyodide for web/js/pyodide-boot.js: started by
// saveBootSnapshot there, it loads Pyodide in snapshot mode, posts the bytes back and is ended.
import { loadPyodide } from "../vendor/pyodide/pyodide.mjs";

self.onmessage = async ({ data }) => {
  try {
    const instance = await loadPyodide({ indexURL: data.indexURL, _makeSnapshot: true });
    const snapshot = instance.makeMemorySnapshot();
    self.postMessage({ snapshot }, [snapshot.buffer]);
  } catch (error) {
    self.postMessage({ error: String(error?.message ?? error) });
  }
};
