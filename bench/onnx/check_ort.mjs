// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node) on the
// mnist-mini test images and compares its outputs with the logits shrink
// wrote with `shrink predict MODEL --logits -o FILE.csv`.
//
//   node bench/onnx/check_ort.mjs MODEL.onnx PREDICTIONS.csv [N]
//
// NODE_PATH must reach onnxruntime-node (e.g. /tmp/ort/node_modules, after
// `npm install --ignore-scripts onnxruntime-node` there). Prints one JSON
// object: n, max_abs_diff, argmax_agreement, accuracy (ORT's argmax against
// the CSV's labels), ort_version and the settings. Exits 1 if max_abs_diff
// exceeds TOL (default 1e-4) or the argmax agreement is below MIN_AGREE
// (default 1: everywhere).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [modelPath, csvPath, nArg] = process.argv.slice(2);
if (!modelPath || !csvPath) {
  console.error('usage: node check_ort.mjs MODEL.onnx PREDICTIONS.csv [N]');
  process.exit(2);
}
const tol = Number(process.env.TOL || '1e-4');
const minAgree = Number(process.env.MIN_AGREE || '1');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

// MNIST IDX images, scaled to [0, 1] exactly as shrink's data package does
// (float32(i) / 255; double division then fround gives the same float32).
function images(file) {
  const b = zlib.gunzipSync(fs.readFileSync(file));
  const n = b.readUInt32BE(4), h = b.readUInt32BE(8), w = b.readUInt32BE(12);
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(b[16 + i] / 255);
  return { n, h, w, x };
}

const img = images(path.join(root, 'data', 'mnistmini', 't10k-images-idx3-ubyte.gz'));
const rows = fs.readFileSync(csvPath, 'utf8').trim().split('\n');
const header = rows[0].split(',');
const first = header.indexOf('logit_0');
if (first < 0) {
  console.error(`${csvPath}: no logit columns (run shrink predict with --logits)`);
  process.exit(2);
}
const k = header.length - first;
const n = Math.min(Number(nArg || img.n), img.n, rows.length - 1);

// ORT_OPT: graph optimization level (disabled, basic, extended, all;
// default all, where ONNX Runtime fuses QDQ patterns onto its int8 kernels).
const opt = process.env.ORT_OPT || 'all';
// ORT_X64QUANTPRECISION=1 sets the session option session.x64quantprecision
// (int8 GEMMs on x86 without VNNI computed as u8u8, avoiding the int16
// saturation of the u8s8 kernels).
const x64 = process.env.ORT_X64QUANTPRECISION || '';
const options = { graphOptimizationLevel: opt };
if (x64) options.extra = { session: { x64quantprecision: x64 } };
const session = await ort.InferenceSession.create(modelPath, options);
const inName = session.inputNames[0], outName = session.outputNames[0];
let worst = 0, agree = 0, correct = 0;
const batch = Number(process.env.BATCH || '500'); // images per ORT run
for (let lo = 0; lo < n; lo += batch) {
  const hi = Math.min(lo + batch, n);
  const d = img.h * img.w;
  // One channel: NCHW and NHWC have the same memory layout.
  const t = new ort.Tensor('float32', img.x.subarray(lo * d, hi * d), [hi - lo, 1, img.h, img.w]);
  const out = (await session.run({ [inName]: t }))[outName].data;
  for (let i = lo; i < hi; i++) {
    const cells = rows[i + 1].split(',');
    let bestO = 0, bestS = 0;
    for (let j = 0; j < k; j++) {
      const o = out[(i - lo) * k + j], s = Number(cells[first + j]);
      worst = Math.max(worst, Math.abs(o - s));
      if (o > out[(i - lo) * k + bestO]) bestO = j;
      if (s > Number(cells[first + bestS])) bestS = j;
    }
    if (bestO === bestS) agree++;
    if (cells[1] !== '' && Number(cells[1]) === bestO) correct++;
  }
}
const res = { model: modelPath, n, max_abs_diff: worst, argmax_agreement: agree / n, accuracy: correct / n, ort_version: ort.env.versions?.common ?? 'unknown', graph_optimization: opt, x64quantprecision: x64 || 'default', tol, min_agree: minAgree };
console.log(JSON.stringify(res));
process.exit(worst <= tol && agree >= minAgree * n ? 0 : 1);
