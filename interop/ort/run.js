#!/usr/bin/env node
// run.js runs one ONNX model in onnxruntime-node (CPU) so that the fewshot
// SDK's outputs can be compared with an independent implementation, and
// optionally times repeated runs for benchmarks.
//
// Usage:
//   node run.js --model M.onnx [--threads T] [--in DIR] [--out DIR]
//               [--shape NAME=D0,D1,...]... [--runs N] [--warmup W]
//
// --in DIR    reads DIR/inputs.json, a list of {"name","dims","file"} whose
//             files (relative to DIR) hold raw little-endian float32 data.
// --shape     without --in, makes a float32 input NAME of the given shape
//             filled with x[i] = (i mod 251)/250 (the pattern used by the
//             shared conv4-random-ortref test data). Inputs whose shapes are
//             fully known from the model need no --shape.
// --out DIR   writes each output as DIR/output_K.bin (raw little-endian
//             float32) and DIR/outputs.json listing {"name","dims","type","file"}.
// --runs N    after W warm-up runs (default 3), times N runs and prints
//             {"runs","threads","median_ms","min_ms","max_ms","cpu_ms_per_run"}
//             as JSON on stdout. cpu_ms_per_run is the process's CPU time
//             (all threads, spin-waiting included) divided by N: steadier
//             than wall time on a busy machine.
// --threads T intra-op threads (default 1); inter-op is always 1 and
//             execution sequential, so T is the only source of parallelism.
//
// Exit status is non-zero, with a message on stderr, on any error.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function fail(msg) {
  process.stderr.write('run.js: ' + msg + '\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { threads: 1, runs: 0, warmup: 3, shapes: {} };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (v === undefined) fail('flag ' + k + ' needs a value');
    i++;
    switch (k) {
      case '--model': a.model = v; break;
      case '--in': a.inDir = v; break;
      case '--out': a.outDir = v; break;
      case '--threads': a.threads = positiveInt(k, v); break;
      case '--runs': a.runs = positiveInt(k, v); break;
      case '--warmup': a.warmup = nonNegativeInt(k, v); break;
      case '--shape': {
        const eq = v.indexOf('=');
        if (eq <= 0) fail('--shape wants NAME=D0,D1,..., got ' + JSON.stringify(v));
        a.shapes[v.slice(0, eq)] = v.slice(eq + 1).split(',').map((d) => positiveInt('--shape', d));
        break;
      }
      default: fail('unknown flag ' + k);
    }
  }
  if (!a.model) fail('--model is required');
  return a;
}

function positiveInt(flag, s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) fail(flag + ' wants a positive integer, got ' + JSON.stringify(s));
  return n;
}

function nonNegativeInt(flag, s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) fail(flag + ' wants a non-negative integer, got ' + JSON.stringify(s));
  return n;
}

function product(dims) {
  return dims.reduce((p, d) => p * d, 1);
}

// readInputs loads DIR/inputs.json and its float32 files.
function readInputs(ort, dir) {
  const listFile = path.join(dir, 'inputs.json');
  let list;
  try {
    list = JSON.parse(fs.readFileSync(listFile, 'utf8'));
  } catch (e) {
    fail('reading ' + listFile + ': ' + e.message);
  }
  if (!Array.isArray(list)) fail(listFile + ': want a JSON list of inputs');
  const feeds = {};
  for (const ent of list) {
    if (typeof ent.name !== 'string' || !Array.isArray(ent.dims) || typeof ent.file !== 'string') {
      fail(listFile + ': each input needs "name", "dims" and "file"');
    }
    const file = path.join(dir, ent.file);
    const buf = fs.readFileSync(file);
    const n = product(ent.dims);
    if (buf.length !== 4 * n) {
      fail(file + ': input ' + ent.name + ' has ' + buf.length + ' bytes, want ' + 4 * n +
        ' for float32 dims [' + ent.dims + ']');
    }
    // Copy into a fresh, aligned buffer: a Buffer's offset in its pool need
    // not be a multiple of 4.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(buf);
    feeds[ent.name] = new ort.Tensor('float32', data, ent.dims);
  }
  return feeds;
}

// makeInputs builds deterministic inputs for timing runs.
function makeInputs(ort, session, shapes) {
  const feeds = {};
  const meta = session.inputMetadata || [];
  for (let i = 0; i < session.inputNames.length; i++) {
    const name = session.inputNames[i];
    let dims = shapes[name];
    if (!dims) {
      const m = meta[i];
      const known = m && Array.isArray(m.shape) && m.shape.every((d) => typeof d === 'number' && d > 0);
      if (!known) fail('input ' + name + ' has no fixed shape in the model; pass --shape ' + name + '=D0,D1,...');
      dims = m.shape;
    }
    const data = new Float32Array(product(dims));
    for (let j = 0; j < data.length; j++) data[j] = (j % 251) / 250;
    feeds[name] = new ort.Tensor('float32', data, dims);
  }
  return feeds;
}

function writeOutputs(results, names, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const list = [];
  names.forEach((name, k) => {
    const t = results[name];
    const file = 'output_' + k + '.bin';
    const data = t.data;
    fs.writeFileSync(path.join(dir, file), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    list.push({ name, dims: Array.from(t.dims), type: t.type, file });
  });
  fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(list, null, 1) + '\n');
}

async function main() {
  if (os.endianness() !== 'LE') fail('this script assumes a little-endian host');
  const args = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: args.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    fail('loading ' + args.model + ': ' + e.message);
  }
  const feeds = args.inDir ? readInputs(ort, args.inDir) : makeInputs(ort, session, args.shapes);
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    fail('running ' + args.model + ': ' + e.message);
  }
  if (args.outDir) writeOutputs(results, session.outputNames, args.outDir);
  if (args.runs > 0) {
    for (let i = 0; i < args.warmup; i++) await session.run(feeds);
    const ms = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < args.runs; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const cpu = process.cpuUsage(cpu0);
    ms.sort((x, y) => x - y);
    const mid = ms.length >> 1;
    const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
    process.stdout.write(JSON.stringify({
      runs: args.runs, threads: args.threads,
      median_ms: +median.toFixed(3), min_ms: +ms[0].toFixed(3), max_ms: +ms[ms.length - 1].toFixed(3),
      cpu_ms_per_run: +((cpu.user + cpu.system) / 1000 / args.runs).toFixed(3),
    }) + '\n');
  }
  await session.release();
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
