// Writes the graph ONNX Runtime actually runs for a model (after its graph
// optimizations, default level "all") to OUT.onnx, to see which operators
// it fused onto its integer kernels (QGemm, QLinearConv, ...).
//
//   node bench/onnx/ort_graph.mjs MODEL.onnx OUT.onnx
//
// NODE_PATH must reach onnxruntime-node.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const [model, out] = process.argv.slice(2);
if (!model || !out) {
  console.error('usage: node ort_graph.mjs MODEL.onnx OUT.onnx');
  process.exit(2);
}
await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', optimizedModelFilePath: out, logSeverityLevel: 3 });
