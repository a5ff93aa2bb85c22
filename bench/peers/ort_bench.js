// ONNX Runtime peer for bench/: inference throughput and latency of an ONNX
// model with onnxruntime-node (npm install --ignore-scripts onnxruntime-node).
// Usage: NODE_PATH=/path/to/node_modules node ort_bench.js MODEL.onnx [threads]
// Prints one JSON object: images_per_s_batch256, latency_us_batch1.
const ort = require("onnxruntime-node");

async function main() {
  const path = process.argv[2];
  const threads = parseInt(process.argv[3] || "2", 10);
  const sess = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all",
  });
  const input = sess.inputNames[0];
  const meta = sess.inputMetadata ? sess.inputMetadata[0] : null;
  let shape = meta && meta.shape ? meta.shape.slice(1).map(Number) : [784];
  if (shape.some((d) => !(d > 0))) shape = [784];
  const per = shape.reduce((a, b) => a * b, 1);
  async function bench(batch, reps) {
    const data = new Float32Array(batch * per);
    for (let i = 0; i < data.length; i++) data[i] = Math.random();
    const feeds = { [input]: new ort.Tensor("float32", data, [batch, ...shape]) };
    for (let i = 0; i < 20; i++) await sess.run(feeds);
    const runs = [];
    for (let r = 0; r < 7; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) await sess.run(feeds);
      runs.push(Number(process.hrtime.bigint() - t0) / 1e9 / reps);
    }
    runs.sort((a, b) => a - b);
    return runs[3];
  }
  const t256 = await bench(256, 200);
  const t1 = await bench(1, 2000);
  console.log(JSON.stringify({
    peer: "onnxruntime-node " + (ort.env.versions ? ort.env.versions.common : ""), threads,
    images_per_s_batch256: 256 / t256, latency_us_batch1: t1 * 1e6,
  }));
}
main().catch((e) => { console.error(e); process.exit(1); });
