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
const path = require('path');

const ortRoot = path.resolve(__dirname, '..', '..', '.deps', 'node', 'node_modules', 'onnxruntime-node');

const NPY = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '|i1': ['int8', Int8Array],
  '<i2': ['int16', Int16Array], '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array],
  '|u1': ['uint8', Uint8Array], '<u2': ['uint16', Uint16Array], '|b1': ['bool', Uint8Array],
};

function parseNpy(buf) {
  const major = buf.readUInt8(6);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', off, off + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const [type, Ctor] = NPY[descr];
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = Buffer.from(buf.subarray(off + hlen, off + hlen + n * Ctor.BYTES_PER_ELEMENT));
  return { type, shape, data: new Ctor(bytes.buffer, bytes.byteOffset, n) };
}

function npyBytes(type, dims, data) {
  const descr = Object.entries(NPY).find(([, v]) => v[0] === type)[0];
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head.writeUInt8(1, 6); head.writeUInt16LE(h.length, 8);
  return Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

// Stored (uncompressed) .npz entries, which is what onnxq writes.
function readNpz(file) {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let p = 0; buf.readUInt32LE(p) === 0x04034b50;) {
    const csize = buf.readUInt32LE(p + 18), nlen = buf.readUInt16LE(p + 26), xlen = buf.readUInt16LE(p + 28);
    const name = buf.toString('utf8', p + 30, p + 30 + nlen).replace(/\.npy$/, '');
    const start = p + 30 + nlen + xlen;
    out.push([name, parseNpy(buf.subarray(start, start + csize))]);
    p = start + csize;
  }
  return out;
}

const CRC = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
function crc32(b) { let c = 0xffffffff; for (const x of b) c = CRC[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }

function writeNpz(file, entries) {
  const parts = [], central = [];
  let offset = 0;
  for (const [name, bytes] of entries) {
    const fname = Buffer.from(name + '.npy', 'utf8');
    const crc = crc32(bytes);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(bytes.length, 18); lh.writeUInt32LE(bytes.length, 22);
    lh.writeUInt16LE(fname.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(bytes.length, 20); ch.writeUInt32LE(bytes.length, 24);
    ch.writeUInt16LE(fname.length, 28); ch.writeUInt32LE(offset, 42);
    parts.push(lh, fname, bytes);
    central.push(ch, fname);
    offset += 30 + fname.length + bytes.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  fs.writeFileSync(file, Buffer.concat([...parts, cd, end]));
}

async function main() {
  const ort = require(ortRoot);
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
