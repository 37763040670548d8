/**
 * BERT-style encoder classifier, shaped like a torch export of Hugging Face's
 * BertForSequenceClassification at a fixed sequence length: word + position
 * embeddings and LayerNorm, the extended attention mask ((1 - m) * finfo.min),
 * post-LN layers with separate Q/K/V projections, the erf GeLU decomposed into
 * Div/Erf/Add/Mul, then the pooler (token 0, Gemm, Tanh) and a Gemm classifier.
 * `bertEncoder` is the same stack without embeddings or head (input: hidden
 * states), for the CrypTen comparison.
 */
import type { ExportBuilder } from './export-builder.ts';
import { INIT_SPREAD } from './export-builder.ts';
import {
  addLoraAdapter,
  attend,
  erfGelu,
  extendedAttentionMask,
  layerNorm,
  linear,
  mergeHeads,
  poolerClassifier,
  splitHeads,
} from './blocks.ts';
import type { Family, GraphIO, ModelSize, Structure } from './spec.ts';
import { layerReader, sampleTokens } from './spec.ts';

const LABELS = 2;
const LAYER = 'bert.encoder.layer';

function embeddings(b: ExportBuilder, s: ModelSize): string {
  const scope = '/bert/embeddings';
  const positions = b.constant(scope, {
    type: 'int64',
    dims: [1, s.seq],
    values: Array.from({ length: s.seq }, (_, i) => i),
  });
  const table = (name: string, rows: number) =>
    b.weight(`bert.embeddings.${name}.weight`, [rows, s.hidden], 0, INIT_SPREAD);
  const words = b.one('Gather', scope, [table('word_embeddings', s.vocab), 'input_ids']);
  const pos = b.one('Gather', scope, [table('position_embeddings', s.seq), positions]);
  return layerNorm(b, scope, b.one('Add', scope, [words, pos]), 'bert.embeddings.LayerNorm', s.hidden);
}

function attention(
  b: ExportBuilder,
  s: ModelSize,
  st: Structure,
  l: number,
  x: string,
  mask: string | undefined,
): string {
  const scope = `/bert/encoder/layer.${l}/attention/self`;
  const prefix = `${LAYER}.${l}.attention`;
  const heads = st.headsOf(l);
  const d = s.hidden / heads;
  const project = (name: string, adapted: boolean) => {
    let y = linear(b, scope, x, `${prefix}.self.${name}`, s.hidden, s.hidden);
    if (adapted && st.explicitLora(l)) y = addLoraAdapter(b, scope, x, y, `${prefix}.self.${name}`, s);
    return splitHeads(b, scope, y, s.seq, heads, d);
  };
  const context = attend(b, scope, project('query', true), project('key', false), project('value', true), d, {
    ...(mask !== undefined ? { add: mask } : {}),
  });
  const merged = mergeHeads(b, scope, context, s.seq, s.hidden);
  const out = linear(b, `${scope}/output`, merged, `${prefix}.output.dense`, s.hidden, s.hidden);
  const sum = b.one('Add', scope, [out, x]);
  return layerNorm(b, `${scope}/output`, sum, `${prefix}.output.LayerNorm`, s.hidden);
}

function feedForward(b: ExportBuilder, s: ModelSize, l: number, x: string): string {
  const scope = `/bert/encoder/layer.${l}`;
  const prefix = `${LAYER}.${l}`;
  const up = linear(b, `${scope}/intermediate`, x, `${prefix}.intermediate.dense`, s.hidden, s.ffn);
  const out = linear(
    b,
    `${scope}/output`,
    erfGelu(b, `${scope}/intermediate`, up),
    `${prefix}.output.dense`,
    s.ffn,
    s.hidden,
  );
  return layerNorm(
    b,
    `${scope}/output`,
    b.one('Add', scope, [out, x]),
    `${prefix}.output.LayerNorm`,
    s.hidden,
  );
}

function encoderStack(b: ExportBuilder, s: ModelSize, st: Structure, x: string, mask?: string): string {
  let h = x;
  for (let l = 0; l < s.layers; l++) h = feedForward(b, s, l, attention(b, s, st, l, h, mask));
  return h;
}

function build(b: ExportBuilder, s: ModelSize, st: Structure): GraphIO {
  const x = encoderStack(b, s, st, embeddings(b, s), extendedAttentionMask(b));
  b.nodes.push({
    op: 'Identity',
    name: '/Identity',
    inputs: [poolerClassifier(b, s.hidden, LABELS, x)],
    outputs: ['logits'],
  });
  const ids = [1, s.seq];
  return {
    inputs: [
      { name: 'input_ids', type: 'int64', shape: ids },
      { name: 'attention_mask', type: 'int64', shape: ids },
    ],
    outputs: [{ name: 'logits', type: 'float', shape: [1, LABELS] }],
  };
}

/** The encoder layers alone: hidden states [1, S, H] in (client-owned), hidden states out. */
export function bertEncoder(b: ExportBuilder, s: ModelSize, st: Structure): GraphIO {
  const out = encoderStack(b, s, st, 'hidden_states');
  b.nodes.push({ op: 'Identity', name: '/Identity', inputs: [out], outputs: ['last_hidden_state'] });
  const shape = [1, s.seq, s.hidden];
  return {
    inputs: [{ name: 'hidden_states', type: 'float', shape }],
    outputs: [{ name: 'last_hidden_state', type: 'float', shape }],
  };
}

export const BERT: Family = {
  name: 'bert',
  summary: 'BERT-style encoder (post-LN, erf GeLU, padding mask, pooler + classifier)',
  hasGelu: true,
  layerOf: layerReader(LAYER),
  isEmbedding: (name) => name.startsWith('bert.embeddings.'),
  loraColumns: (name, dims) =>
    /\.attention\.self\.(query|value)\.weight$/.test(name) ? [[0, dims[1]!]] : [],
  build,
  sampleInputs: (s) => ({
    input_ids: [sampleTokens(s, 11)],
    // The last quarter of the positions is padding, so the mask matters.
    attention_mask: [Array.from({ length: s.seq }, (_, i) => (i < s.seq - s.seq / 4 ? 1 : 0))],
  }),
};
