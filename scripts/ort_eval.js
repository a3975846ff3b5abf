#!/usr/bin/env node
// Top-1 accuracy and time per image of an image classifier in ONNX Runtime
// (onnxruntime-node from .deps/), on IDX images and labels (MNIST format,
// .gz or not): the demo's second opinion next to `onnxq eval`.
//
//   node scripts/ort_eval.js MODEL.onnx IMAGES.idx[.gz] LABELS.idx[.gz] [--batch 100] [--limit N]
//
// A float input gets pixel / 255 (what `onnxq eval` feeds with its default
// options); a uint8 input (an integer-only model lowered with raw pixel
// input) gets the pixels themselves. Prints one JSON line:
//   {"top1": 0.87, "samples": 10000, "ms_per_sample": 0.05}
// (time: session.run only, summed over the batches; one thread.)
// Exit code 1 with one line on stderr when ONNX Runtime is missing or fails.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf.readUInt16BE(0) !== 0 || buf[2] !== 0x08) throw new Error(`${file}: not an IDX file of unsigned bytes`);
  const rank = buf[3];
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  return { dims, data: buf.subarray(4 + 4 * rank) };
}

async function main() {
  const args = process.argv.slice(2);
  let batch = 100, limit = Infinity;
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--batch') batch = Number(args[++i]);
    else if (args[i] === '--limit') limit = Number(args[++i]);
    else pos.push(args[i]);
  }
  if (pos.length !== 3) throw new Error('usage: ort_eval.js MODEL IMAGES LABELS [--batch N] [--limit N]');
  const ort = require(path.resolve(__dirname, '..', '.deps', 'node', 'node_modules', 'onnxruntime-node'));
  const [modelPath, imagesPath, labelsPath] = pos;
  const images = readIdx(imagesPath), labels = readIdx(labelsPath);
  const n = Math.min(images.dims[0], labels.dims[0], limit);
  const pixels = images.dims.slice(1).reduce((a, b) => a * b, 1);
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const inName = session.inputNames[0], outName = session.outputNames[0];
  // The input's element type, from the session's input metadata.
  const meta = Array.isArray(session.inputMetadata) ? session.inputMetadata.find(m => m.name === inName) : null;
  const uint8 = !!meta && meta.type === 'uint8';
  let correct = 0, ms = 0;
  const hw = images.dims.slice(1);
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const src = images.data.subarray(start * pixels, (start + b) * pixels);
    const data = uint8 ? Uint8Array.from(src) : Float32Array.from(src, v => v / 255);
    const t = new ort.Tensor(uint8 ? 'uint8' : 'float32', data, [b, 1, ...hw]);
    const t0 = process.hrtime.bigint();
    const out = (await session.run({ [inName]: t }))[outName];
    ms += Number(process.hrtime.bigint() - t0) / 1e6;
    const classes = out.dims[out.dims.length - 1];
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (out.data[i * classes + c] > out.data[i * classes + best]) best = c;
      correct += best === labels.data[start + i];
    }
  }
  process.stdout.write(JSON.stringify({ top1: correct / n, samples: n, ms_per_sample: ms / n }) + '\n');
}

main().catch(e => { process.stderr.write(`ort_eval: ${String(e.message || e).split('\n')[0]}\n`); process.exit(1); });
