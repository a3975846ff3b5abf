// The .npy / .npz codec shared by onnxq's node scripts (tests/ort/run_ort.js,
// tests/quantizer/run_ort_batch.js, bench/bench_ort.js), and the path of the
// project's onnxruntime-node (installed into .deps/node by scripts/setup.sh).
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  return require(path.resolve(__dirname, '..', '..', '.deps', 'node', 'node_modules', 'onnxruntime-node'));
}

// numpy.savez writes stored entries; numpy.savez_compressed deflated ones.
const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<f2': ['float16', Uint16Array],
  '|i1': ['int8', Int8Array], '<i2': ['int16', Int16Array], '<i4': ['int32', Int32Array],
  '<i8': ['int64', BigInt64Array], '|u1': ['uint8', Uint8Array], '<u2': ['uint16', Uint16Array],
  '<u4': ['uint32', Uint32Array], '<u8': ['uint64', BigUint64Array], '|b1': ['bool', Uint8Array],
};

function parseNpy(buf, label) {
  if (buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${label}: not .npy`);
  const major = buf.readUInt8(6);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', off, off + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${label}: fortran order not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const t = NPY_TYPES[descr];
  if (!t) throw new Error(`${label}: unsupported dtype ${descr}`);
  const [type, Ctor] = t;
  const n = shape.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  const bytes = Buffer.from(buf.subarray(start, start + n * Ctor.BYTES_PER_ELEMENT));  // aligned copy
  let data = new Ctor(bytes.buffer, bytes.byteOffset, n);
  if (type === 'bool') data = Uint8Array.from(data);
  return { type, shape, data };
}

function npyBytes(type, dims, data) {
  const entry = Object.entries(NPY_TYPES).find(([, v]) => v[0] === type);
  if (!entry) throw new Error(`cannot write ${type} to .npy`);
  let h = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + h.length + 1;
  h += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head.writeUInt8(1, 6); head.writeUInt8(0, 7); head.writeUInt16LE(h.length, 8);
  const body = type === 'bool' ? Buffer.from(Uint8Array.from(data, v => (v ? 1 : 0)))
                               : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([head, Buffer.from(h, 'latin1'), body]);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
function crc32(buf) { let c = 0xffffffff; for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }

function readNpz(file) {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let p = buf.length - 22; p >= 0; p--) if (buf.readUInt32LE(p) === 0x06054b50) { eocd = p; break; }
  if (eocd < 0) throw new Error(`${file}: not a zip archive`);
  const count = buf.readUInt16LE(eocd + 10);
  let cd = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    const method = buf.readUInt16LE(cd + 10), csize = buf.readUInt32LE(cd + 20);
    const nlen = buf.readUInt16LE(cd + 28), xlen = buf.readUInt16LE(cd + 30), clen = buf.readUInt16LE(cd + 32);
    const local = buf.readUInt32LE(cd + 42);
    const name = buf.toString('utf8', cd + 46, cd + 46 + nlen);
    cd += 46 + nlen + xlen + clen;
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    let raw = buf.subarray(data, data + csize);
    if (method === 8) raw = require('zlib').inflateRawSync(raw);
    out.push([name.replace(/\.npy$/, ''), parseNpy(raw, `${file}:${name}`)]);
  }
  return out;
}

function writeNpz(file, entries) {
  const parts = [], central = [];
  let offset = 0;
  for (const [name, bytes] of entries) {
    const fname = Buffer.from(name + '.npy', 'utf8');
    const crc = crc32(bytes);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(0x21, 12);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(bytes.length, 18); lh.writeUInt32LE(bytes.length, 22);
    lh.writeUInt16LE(fname.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(0x21, 14);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(bytes.length, 20); ch.writeUInt32LE(bytes.length, 24);
    ch.writeUInt16LE(fname.length, 28); ch.writeUInt32LE(offset, 42);
    parts.push(lh, fname, bytes);
    central.push(ch, fname);
    offset += 30 + fname.length + bytes.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12); end.writeUInt32LE(offset, 16);
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([...parts, cdBuf, end]));
  fs.renameSync(tmp, file);
}

module.exports = { loadOrt, parseNpy, npyBytes, readNpz, writeNpz };
