#!/usr/bin/env node
// Runs several ONNX models in ONNX Runtime in one process (starting node
// and loading onnxruntime-node costs about a second; the quantizer's test
// matrix runs dozens of models). Same .npz conventions as tests/ort/run_ort.js.
//
//   node run_ort_batch.js JOBS.tsv
//
// Each line of JOBS.tsv: MODEL <tab> IN.npz <tab> OUT.npz [<tab> LEVEL], LEVEL
// the graph optimization level (disabled | basic | extended | all, default
// all). A job that fails writes OUT.npz.err with ONNX Runtime's message and
// the others still run.
'use strict';
const fs = require('fs');

const { loadOrt, npyBytes, readNpz, writeNpz } = require('../ort/npz');

async function main() {
  const ort = loadOrt();
  const jobs = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(l => l.trim());
  for (const line of jobs) {
    const [model, input, output, level] = line.split('\t');
    try {
      const session = await ort.InferenceSession.create(model, {
        intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: level || 'all',
      });
      const feeds = {};
      for (const [name, a] of readNpz(input)) feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
      const results = await session.run(feeds);
      writeNpz(output, session.outputNames.map(n => [n, npyBytes(results[n].type, results[n].dims, results[n].data)]));
    } catch (e) {
      fs.writeFileSync(output + '.err', String(e.message || e).split('\n')[0]);
    }
  }
}

main().catch(e => { process.stderr.write(`run_ort_batch: ${e.message || e}\n`); process.exit(1); });
