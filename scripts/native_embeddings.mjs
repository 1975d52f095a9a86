// Sentence embeddings with native llama.cpp (node-llama-cpp prebuilt CPU binaries).
// Usage: node native_embeddings.mjs <node_modules dir> <model.gguf> <context size> <sentences JSON>
// Prints one JSON object on stdout: the pooled, unnormalised vectors (the GGUF's pooling type).
// Driven by scripts/native_embeddings.py.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, modelPath, contextSizeArg, sentencesJson] = process.argv.slice(2);
const contextSize = Number.parseInt(contextSizeArg, 10);
const packageDir = join(nodeModules, "node-llama-cpp");
const { getLlama } = await import(pathToFileURL(join(packageDir, "dist", "index.js")).href);
const packageVersion = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createEmbeddingContext({
  contextSize,
  batchSize: contextSize,
  threads: 1,
});

const embeddings = [];
for (const text of JSON.parse(sentencesJson)) {
  const { vector } = await context.getEmbeddingFor(text);
  // with the [CLS]/[SEP] tokens getEmbeddingFor adds
  embeddings.push({ text, tokens: context.calculateInputLength(text), vector: Array.from(vector) });
}
console.log(JSON.stringify({
  engine: "node-llama-cpp",
  engine_version: packageVersion,
  llama_cpp_release: llama.llamaCppRelease.release,
  embeddings,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
