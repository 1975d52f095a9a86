// Native llama.cpp speed (node-llama-cpp prebuilt CPU binaries) for scripts/bench.py.
// Usage: node bench_native.mjs <node_modules dir> <model.gguf> <threads> <n_ctx> <n_gen> <prompt>
// One warm-up, then one measured completion; prints one JSON object on stdout. Timed like
// llama.cpp's server (what wllama reports): prompt_ms ends when the first token is out,
// generation_ms runs from there to the last of n_gen tokens.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const [nodeModules, modelPath, threadsArg, nCtxArg, nGenArg, prompt] = process.argv.slice(2);
const threads = Number.parseInt(threadsArg, 10);
const nGen = Number.parseInt(nGenArg, 10);
const packageDir = join(nodeModules, "node-llama-cpp");
const { getLlama } = await import(pathToFileURL(join(packageDir, "dist", "index.js")).href);
const packageVersion = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const loadStart = performance.now();
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
  contextSize: Number.parseInt(nCtxArg, 10),
  batchSize: 512,
  threads,
  flashAttention: true,
});
const loadMs = performance.now() - loadStart;

function promptTokens(text) {
  const tokens = model.tokenize(text);
  const bos = model.tokens.bos;
  const addBos = model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos;
  return addBos ? [bos, ...tokens] : tokens;
}

async function complete(tokens, count) {
  const sequence = context.getSequence();
  const start = performance.now();
  let firstAt = null;
  let generated = 0;
  for await (const _token of sequence.evaluate(tokens, { temperature: 0, yieldEogToken: true })) {
    generated += 1;
    if (firstAt === null) firstAt = performance.now();
    if (generated >= count) break;
  }
  const end = performance.now();
  sequence.dispose();
  return {
    prompt_tokens: tokens.length,
    prompt_ms: firstAt - start,
    generated_tokens: generated,
    generation_ms: end - firstAt,
  };
}

await complete(promptTokens("Warm up."), 4);
const result = await complete(promptTokens(prompt), nGen);
console.log(JSON.stringify({
  engine_version: packageVersion,
  llama_cpp_release: llama.llamaCppRelease.release,
  threads,
  load_ms: loadMs,
  ...result,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
