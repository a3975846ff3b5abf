#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node) on inputs from an
// .npz file and writes the outputs to an .npz file: onnxq's second opinion.
//
//   node run_ort.js MODEL.onnx IN.npz OUT.npz [--threads N] [--opt all|basic|extended|disabled]
//
// Exit code 0 on success; 1 with one line on stderr otherwise.
'use strict';

const { loadOrt, npyBytes, readNpz, writeNpz } = require('./npz');

async function main() {
  const args = process.argv.slice(2);
  const opts = { threads: 1, opt: 'all' };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') opts.threads = Number(args[++i]);
    else if (args[i] === '--opt') opts.opt = args[++i];
    else pos.push(args[i]);
  }
  if (pos.length !== 3) throw new Error('usage: run_ort.js MODEL IN.npz OUT.npz [--threads N] [--opt LEVEL]');
  const [modelPath, inPath, outPath] = pos;
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: opts.threads, interOpNumThreads: 1, graphOptimizationLevel: opts.opt,
  });
  const feeds = {};
  for (const [name, a] of readNpz(inPath)) feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  const results = await session.run(feeds);
  const entries = session.outputNames.map(n => [n, npyBytes(results[n].type, results[n].dims, results[n].data)]);
  writeNpz(outPath, entries);
}

main().catch(e => { process.stderr.write(`onnxruntime: ${String(e.message || e).split('\n')[0]}\n`); process.exit(1); });
