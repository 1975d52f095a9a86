// Greedy generation with native llama.cpp (node-llama-cpp prebuilt CPU binaries).
// Usage: node native_reference.mjs <node_modules dir> <model.gguf> <prompt> <n_predict>
// Prints one JSON object on stdout. Driven by scripts/native_reference.py.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, modelPath, prompt, nPredictArg] = process.argv.slice(2);
const nPredict = Number.parseInt(nPredictArg, 10);
const packageDir = join(nodeModules, "node-llama-cpp");
const { getLlama } = await import(pathToFileURL(join(packageDir, "dist", "index.js")).href);
const packageVersion = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({ contextSize: 256, batchSize: 256, threads: 1 });
const sequence = context.getSequence();

const textTokens = model.tokenize(prompt);
const bos = model.tokens.bos;
const addBos = model.tokens.shouldPrependBosToken && bos !== null && textTokens[0] !== bos;
const promptTokens = addBos ? [bos, ...textTokens] : textTokens;

const generated = [];
for await (const token of sequence.evaluate(promptTokens, { temperature: 0, yieldEogToken: true })) {
  generated.push(token);
  if (generated.length >= nPredict || model.isEogToken(token)) break;
}

const pieces = generated.map((token) => model.detokenize([token], false));
const continuation = model.detokenize(generated, false, promptTokens);
console.log(JSON.stringify({
  engine: "node-llama-cpp",
  engine_version: packageVersion,
  llama_cpp_release: llama.llamaCppRelease.release,
  add_bos: addBos,
  prompt_token_ids: promptTokens,
  generated_token_ids: generated,
  generated_pieces: pieces,
  generated_text: continuation,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
