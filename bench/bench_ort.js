#!/usr/bin/env node
// Latency of ONNX Runtime (onnxruntime-node) on one model: the yardstick
// for onnxq's bench/bench_onnxq.
//
//   node bench/bench_ort.js MODEL.onnx IN.npz [--warmup W] [--runs N] [--threads T]
//                           [--max-time S]
//
// IN.npz holds float32 inputs by name (stored entries, as bench_onnxq
// --make-input writes them). The session uses T intra-op threads (default 1),
// one inter-op thread, sequential execution and ONNX Runtime's default graph
// optimizations. W untimed runs, then N timed runs of session.run(); prints
// "times_ms t1 t2 ..." (wall clock), "cpu_ms c1 c2 ..." (process CPU time,
// all threads), "median_ms M" and "peak_rss_kb K" (peak RSS of the node
// process, VmHWM, node's own baseline included) like bench_onnxq. --max-time S
// stops warm-up and timed runs after S seconds each (at least 1 warm-up and
// 2 timed runs).
'use strict';
const fs = require('fs');

const { loadOrt, readNpz } = require('../tests/ort/npz');

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 2) throw new Error('usage: bench_ort.js MODEL.onnx IN.npz [--warmup W] [--runs N] [--threads T]');
  const [model, input] = args;
  let warmup = 5, runs = 20, threads = 1, maxTime = 0;
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--warmup') warmup = Number(args[++i]);
    else if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--threads') threads = Number(args[++i]);
    else if (args[i] === '--max-time') maxTime = Number(args[++i]);
    else throw new Error(`unknown option ${args[i]}`);
  }
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {};
  for (const [name, arr] of readNpz(input)) feeds[name] = new ort.Tensor(arr.type, arr.data, arr.shape);
  const since = t => Number(process.hrtime.bigint() - t) / 1e9;
  const tWarm = process.hrtime.bigint();
  for (let r = 0; r < warmup; r++) {
    if (maxTime > 0 && r >= 1 && since(tWarm) >= maxTime) break;
    await session.run(feeds);
  }
  const times = [], cpu = [];
  const tTimed = process.hrtime.bigint();
  for (let r = 0; r < runs; r++) {
    if (maxTime > 0 && r >= 2 && since(tTimed) >= maxTime) break;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  console.log('times_ms ' + times.map(t => t.toFixed(4)).join(' '));
  console.log('cpu_ms ' + cpu.map(t => t.toFixed(4)).join(' '));
  console.log('median_ms ' + median(times).toFixed(4));
  // VmHWM: ru_maxrss would include the parent's peak (kept across exec).
  let peak = process.resourceUsage().maxRSS;
  try {
    const m = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    if (m) peak = Number(m[1]);
  } catch (e) { /* not Linux: keep maxRSS */ }
  console.log('peak_rss_kb ' + peak);
}

main().catch(e => { process.stderr.write(String(e && e.message ? e.message : e) + '\n'); process.exit(1); });
