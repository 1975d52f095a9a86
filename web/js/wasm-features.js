// What this browser's WebAssembly engine offers, probed once; the page (engine-build.js, an ES
// module importing this file) and the service worker (sw.js, through importScripts) read the
// same answers from `self.wasmFeatures`, so both run the same probes. Written to be valid both
// as a classic script and as a module: no imports, no exports.
(() => {
  // Smallest module using a SIMD128 instruction; WebAssembly.validate tells if the engine has it.
  const SIMD_PROBE = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0,
    253, 15, 253, 98, 11,
  ]);

  // The same with i32x4.relaxed_dot_i8x16_i7x16_add_s, the instruction our relaxed kernels use.
  const RELAXED_SIMD_PROBE = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0,
    253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 147, 2, 11,
  ]);

  function hasMemory64() {
    try {
      new WebAssembly.Memory({ address: "i64", initial: 1n });
      return true;
    } catch {
      return false;
    }
  }

  self.wasmFeatures = Object.freeze({
    simd: WebAssembly.validate(SIMD_PROBE),
    relaxedSimd: WebAssembly.validate(RELAXED_SIMD_PROBE),
    jspi: Boolean(WebAssembly.Suspending),
    memory64: hasMemory64(),
    wasmExceptions: typeof WebAssembly.Tag === "function",
  });
})();
