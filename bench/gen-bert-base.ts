/**
 * Generates a BERT-base-size sequence classifier as ONNX (opset 17), shaped
 * like a `torch.onnx.export` of a Hugging Face BertForSequenceClassification
 * with dynamic batch/sequence axes: embeddings (word + token type + position
 * ids sliced by the runtime sequence length) and LayerNormalization, the
 * extended attention mask (Unsqueeze, Cast, 1 - m, * finfo.min), per layer
 * self-attention with Shape -> Gather -> Unsqueeze -> Concat -> Reshape head
 * splitting, Transpose, MatMul, scale, Softmax, the erf GeLU FFN and residual
 * LayerNorms, then the pooler (Gather of token 0, Gemm, Tanh) and a Gemm
 * classifier. Weights are deterministic pseudo-random fp32 (std ~0.02), written
 * chunk by chunk (compiler/onnx/stream-write.ts), so generation holds no
 * weight in memory. The builder and blocks are shared with the evaluation's
 * model families (bench/models/).
 *
 * Usage: npx tsx bench/gen-bert-base.ts OUT.onnx   (~440 MB; write it outside the repo)
 * The inputs are dynamic: lower with `shapes` from `bertShapes(config)`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeOnnxStreaming } from '../compiler/onnx/stream-write.ts';
import {
  dynamicShape,
  erfGelu,
  extendedAttentionMask,
  layerNorm,
  linear,
  poolerClassifier,
} from './models/blocks.ts';
import { ExportBuilder, INIT_SPREAD } from './models/export-builder.ts';
import type { TransformerDims } from './models/spec.ts';

export interface BertConfig extends TransformerDims {
  readonly maxPositions: number;
  readonly typeVocab: number;
  readonly labels: number;
  readonly seed: number;
}

export const BERT_BASE: BertConfig = {
  layers: 12,
  hidden: 768,
  heads: 12,
  ffn: 3072,
  vocab: 30522,
  seq: 128,
  maxPositions: 512,
  typeVocab: 2,
  labels: 2,
  seed: 1,
};

/** The `shapes` to lower the generated model with (batch 1, `config.seq` tokens). */
export function bertShapes(config: BertConfig = BERT_BASE): Record<string, number[]> {
  const s = [1, config.seq];
  return { input_ids: s, attention_mask: s, token_type_ids: s };
}

export interface GeneratedModel {
  readonly path: string;
  readonly bytes: number;
  readonly parameters: number;
  readonly shapes: Record<string, number[]>;
}

function embeddings(b: ExportBuilder, c: BertConfig): string {
  const scope = '/bert/embeddings';
  const seqLen = b.one('Gather', scope, [
    b.one('Shape', scope, ['input_ids']),
    b.constant(scope, { type: 'int64', dims: [], values: [1] }),
  ]);
  const positionIds = b.one('Slice', scope, [
    'bert.embeddings.position_ids',
    b.ints(scope, [0]),
    b.one('Unsqueeze', scope, [seqLen, b.ints(scope, [0])]),
    b.ints(scope, [1]),
    b.ints(scope, [1]),
  ]);
  const table = (name: string, rows: number) =>
    b.weight(`bert.embeddings.${name}.weight`, [rows, c.hidden], 0, INIT_SPREAD);
  const words = b.one('Gather', scope, [table('word_embeddings', c.vocab), 'input_ids']);
  const types = b.one('Gather', scope, [table('token_type_embeddings', c.typeVocab), 'token_type_ids']);
  const positions = b.one('Gather', scope, [table('position_embeddings', c.maxPositions), positionIds]);
  const sum = b.one('Add', scope, [b.one('Add', scope, [words, types]), positions]);
  return layerNorm(b, scope, sum, 'bert.embeddings.LayerNorm', c.hidden);
}

function attention(b: ExportBuilder, c: BertConfig, l: number, x: string, mask: string): string {
  const scope = `/bert/encoder/layer.${l}/attention/self`;
  const prefix = `bert.encoder.layer.${l}.attention`;
  const headDim = c.hidden / c.heads;
  const heads = (name: string) => {
    const proj = linear(b, scope, x, `${prefix}.self.${name}`, c.hidden, c.hidden);
    const split = b.one('Reshape', scope, [proj, dynamicShape(b, scope, proj, [c.heads, headDim])]);
    return b.one('Transpose', scope, [split], { perm: [0, 2, 1, 3] });
  };
  const q = heads('query');
  const kT = b.one('Transpose', scope, [heads('key')], { perm: [0, 1, 3, 2] });
  const v = heads('value');
  const scores = b.one('Div', scope, [b.one('MatMul', scope, [q, kT]), b.scalar(scope, Math.sqrt(headDim))]);
  const probs = b.one('Softmax', scope, [b.one('Add', scope, [scores, mask])], { axis: -1 });
  const context = b.one('Transpose', scope, [b.one('MatMul', scope, [probs, v])], { perm: [0, 2, 1, 3] });
  const merged = b.one('Reshape', scope, [context, dynamicShape(b, scope, context, [c.hidden])]);
  const out = linear(b, `${scope}/output`, merged, `${prefix}.output.dense`, c.hidden, c.hidden);
  return layerNorm(
    b,
    `${scope}/output`,
    b.one('Add', scope, [out, x]),
    `${prefix}.output.LayerNorm`,
    c.hidden,
  );
}

function feedForward(b: ExportBuilder, c: BertConfig, l: number, x: string): string {
  const scope = `/bert/encoder/layer.${l}`;
  const prefix = `bert.encoder.layer.${l}`;
  const h = erfGelu(
    b,
    `${scope}/intermediate`,
    linear(b, `${scope}/intermediate`, x, `${prefix}.intermediate.dense`, c.hidden, c.ffn),
  );
  const out = linear(b, `${scope}/output`, h, `${prefix}.output.dense`, c.ffn, c.hidden);
  return layerNorm(
    b,
    `${scope}/output`,
    b.one('Add', scope, [out, x]),
    `${prefix}.output.LayerNorm`,
    c.hidden,
  );
}

export function generateBertBase(path: string, config: BertConfig = BERT_BASE): GeneratedModel {
  if (config.hidden % config.heads !== 0) throw new Error('hidden size must be a multiple of the head count');
  const b = new ExportBuilder(config.seed);
  let x = embeddings(b, config);
  const mask = extendedAttentionMask(b);
  for (let l = 0; l < config.layers; l++) x = feedForward(b, config, l, attention(b, config, l, x, mask));
  const logits = poolerClassifier(b, config.hidden, config.labels, x);
  b.nodes.push({ op: 'Identity', name: '/Identity', inputs: [logits], outputs: ['logits'] });

  const positionIds = Array.from({ length: config.maxPositions }, (_, i) => i);
  const tokens = ['batch_size', 'sequence_length'];
  const bytes = writeOnnxStreaming(
    path,
    {
      opset: 17,
      graphName: 'main_graph',
      inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({
        name,
        type: 'int64',
        shape: tokens,
      })),
      outputs: [{ name: 'logits', type: 'float', shape: ['batch_size', config.labels] }],
      initializers: [
        {
          name: 'bert.embeddings.position_ids',
          type: 'int64',
          dims: [1, config.maxPositions],
          values: positionIds,
        },
      ],
      nodes: b.nodes,
    },
    b.weights,
  );
  const parameters = b.weights.reduce((s, w) => s + w.dims.reduce((p, d) => p * d, 1), 0);
  return { path, bytes, parameters, shapes: bertShapes(config) };
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: npx tsx bench/gen-bert-base.ts OUT.onnx');
    process.exit(2);
  }
  const t0 = performance.now();
  const r = generateBertBase(out);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${r.path}: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.parameters} parameters, ${secs} s`);
}
