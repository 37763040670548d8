/**
 * Transformer building blocks as torch exports them (ONNX node patterns the
 * marillc frontend lowers and fuses): linear layers, LayerNorm, RMSNorm in
 * torch ops, the erf and tanh GeLUs, SiLU, head splitting and merging,
 * rotary embeddings and scaled dot-product attention. Shared by
 * bench/gen-bert-base.ts and the evaluation families (bench/models/*.ts).
 */
import type { ExportBuilder } from './export-builder.ts';
import { INIT_SPREAD } from './export-builder.ts';
import type { GraphIO, ModelSize, Structure } from './spec.ts';

/** x @ W (+ b) with W stored [dIn, dOut], as a Conv1D / transposed nn.Linear exports. */
export function linear(
  b: ExportBuilder,
  scope: string,
  x: string,
  prefix: string,
  dIn: number,
  dOut: number,
  bias = true,
): string {
  const w = b.weight(`${prefix}.weight`, [dIn, dOut], 0, INIT_SPREAD);
  const y = b.one('MatMul', scope, [x, w]);
  if (!bias) return y;
  return b.one('Add', scope, [b.weight(`${prefix}.bias`, [dOut], 0, INIT_SPREAD), y]);
}

/** A rank-r explicit LoRA adapter beside a linear: (x @ lora_A) @ lora_B, names as PEFT keeps them. */
export function loraBranch(
  b: ExportBuilder,
  scope: string,
  x: string,
  prefix: string,
  dIn: number,
  dOut: number,
  rank: number,
): string {
  const a = b.weight(`${prefix}.lora_A`, [dIn, rank], 0, 1 / Math.sqrt(dIn));
  const bw = b.weight(`${prefix}.lora_B`, [rank, dOut], 0, 0.05);
  return b.one('MatMul', scope, [b.one('MatMul', scope, [x, a]), bw]);
}

export function layerNorm(
  b: ExportBuilder,
  scope: string,
  x: string,
  prefix: string,
  hidden: number,
  epsilon = 1e-12,
): string {
  const gamma = b.weight(`${prefix}.weight`, [hidden], 1, 0.05);
  const beta = b.weight(`${prefix}.bias`, [hidden], 0, 0.05);
  return b.one('LayerNormalization', scope, [x, gamma, beta], { axis: -1, epsilon: { float: epsilon } });
}

/** weight * (x * 1/sqrt(mean(x^2) + eps)), LLaMA's RMSNorm in torch ops. */
export function rmsNorm(b: ExportBuilder, scope: string, x: string, prefix: string, hidden: number): string {
  const variance = b.one('ReduceMean', scope, [b.one('Pow', scope, [x, b.scalar(scope, 2)])], {
    axes: [-1],
    keepdims: 1,
  });
  const inv = b.one('Reciprocal', scope, [
    b.one('Sqrt', scope, [b.one('Add', scope, [variance, b.scalar(scope, 1e-6)])]),
  ]);
  const gamma = b.weight(`${prefix}.weight`, [hidden], 1, 0.05);
  return b.one('Mul', scope, [gamma, b.one('Mul', scope, [x, inv])]);
}

/** Concat of [batch, seq] read off `like` at run time and the given constant tail, as exporters emit. */
export function dynamicShape(b: ExportBuilder, scope: string, like: string, tail: readonly number[]): string {
  const shape = b.one('Shape', scope, [like]);
  const dims = [0, 1].map((i) => {
    const d = b.one('Gather', scope, [shape, b.constant(scope, { type: 'int64', dims: [], values: [i] })], {
      axis: 0,
    });
    return b.one('Unsqueeze', scope, [d, b.ints(scope, [0])]);
  });
  return b.one('Concat', scope, [...dims, b.ints(scope, tail)], { axis: 0 });
}

/** x * 0.5 * (1 + erf(x / sqrt(2))), the exact GeLU as torch exports it. */
export function erfGelu(b: ExportBuilder, scope: string, x: string): string {
  const erf = b.one('Erf', scope, [b.one('Div', scope, [x, b.scalar(scope, 1.4142135381698608)])]);
  const onePlus = b.one('Add', scope, [erf, b.scalar(scope, 1)]);
  return b.one('Mul', scope, [b.one('Mul', scope, [x, onePlus]), b.scalar(scope, 0.5)]);
}

/** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's "gelu_new". */
export function tanhGelu(b: ExportBuilder, scope: string, x: string): string {
  const cube = b.one('Pow', scope, [x, b.scalar(scope, 3)]);
  const inner = b.one('Add', scope, [x, b.one('Mul', scope, [b.scalar(scope, 0.044715), cube])]);
  const t = b.one('Tanh', scope, [b.one('Mul', scope, [b.scalar(scope, Math.sqrt(2 / Math.PI)), inner])]);
  const half = b.one('Mul', scope, [b.scalar(scope, 0.5), x]);
  return b.one('Mul', scope, [half, b.one('Add', scope, [b.scalar(scope, 1), t])]);
}

export function silu(b: ExportBuilder, scope: string, x: string): string {
  return b.one('Mul', scope, [x, b.one('Sigmoid', scope, [x])]);
}

/** [1, S, heads*d] -> [1, heads, S, d] (static shapes: the sequence length is fixed at export). */
export function splitHeads(
  b: ExportBuilder,
  scope: string,
  x: string,
  seq: number,
  heads: number,
  d: number,
): string {
  const split = b.one('Reshape', scope, [x, b.ints(scope, [1, seq, heads, d])]);
  return b.one('Transpose', scope, [split], { perm: [0, 2, 1, 3] });
}

/** [1, heads, S, d] -> [1, S, heads*d]. */
export function mergeHeads(b: ExportBuilder, scope: string, x: string, seq: number, hidden: number): string {
  const t = b.one('Transpose', scope, [x], { perm: [0, 2, 1, 3] });
  return b.one('Reshape', scope, [t, b.ints(scope, [1, seq, hidden])]);
}

/** cos/sin tables [1, 1, S, d] of rotary embeddings (theta 10000), as Constant nodes. */
export function rotaryTables(b: ExportBuilder, scope: string, seq: number, d: number): [string, string] {
  const cos: number[] = [];
  const sin: number[] = [];
  for (let p = 0; p < seq; p++)
    for (let i = 0; i < d; i++) {
      const angle = p / 10000 ** ((2 * (i % (d / 2))) / d);
      cos.push(Math.cos(angle));
      sin.push(Math.sin(angle));
    }
  const table = (values: number[]) => b.constant(scope, { type: 'float', dims: [1, 1, seq, d], values });
  return [table(cos), table(sin)];
}

/** x * cos + rotate_half(x) * sin, rotate_half as Slice/Neg/Concat. */
export function applyRotary(
  b: ExportBuilder,
  scope: string,
  x: string,
  tables: readonly [string, string],
  d: number,
): string {
  const slice = (start: number, end: number) =>
    b.one('Slice', scope, [x, b.ints(scope, [start]), b.ints(scope, [end]), b.ints(scope, [3])]);
  const rotated = b.one('Concat', scope, [b.one('Neg', scope, [slice(d / 2, d)]), slice(0, d / 2)], {
    axis: -1,
  });
  return b.one('Add', scope, [
    b.one('Mul', scope, [x, tables[0]]),
    b.one('Mul', scope, [rotated, tables[1]]),
  ]);
}

/** softmax(q kT / sqrt(d) (+ mask)) v over [1, heads, S, d] operands; `mask` adds or selects. */
export function attend(
  b: ExportBuilder,
  scope: string,
  q: string,
  k: string,
  v: string,
  d: number,
  mask: { readonly add?: string; readonly keep?: string },
): string {
  const kT = b.one('Transpose', scope, [k], { perm: [0, 1, 3, 2] });
  let scores = b.one('Div', scope, [b.one('MatMul', scope, [q, kT]), b.scalar(scope, Math.sqrt(d))]);
  if (mask.add !== undefined) scores = b.one('Add', scope, [scores, mask.add]);
  if (mask.keep !== undefined) scores = b.one('Where', scope, [mask.keep, scores, b.scalar(scope, -1e4)]);
  const probs = b.one('Softmax', scope, [scores], { axis: -1 });
  return b.one('MatMul', scope, [probs, v]);
}

/** BERT's extended attention mask: (1 - mask) * finfo(float32).min, broadcast over heads and query positions. */
export function extendedAttentionMask(b: ExportBuilder): string {
  const scope = '/bert';
  const m = b.one('Unsqueeze', scope, [
    b.one('Unsqueeze', scope, ['attention_mask', b.ints(scope, [1])]),
    b.ints(scope, [2]),
  ]);
  const inverted = b.one('Sub', scope, [b.scalar(scope, 1), b.one('Cast', scope, [m], { to: 1 })]);
  return b.one('Mul', scope, [inverted, b.scalar(scope, -3.4028234663852886e38)]);
}

/** BERT's pooler (token 0, Gemm, Tanh) and a Gemm classifier to `labels` logits. */
export function poolerClassifier(b: ExportBuilder, hidden: number, labels: number, x: string): string {
  const zero = b.constant('/bert/pooler', { type: 'int64', dims: [], values: [0] });
  const first = b.one('Gather', '/bert/pooler', [x, zero], { axis: 1 });
  const gemm = (scope: string, input: string, prefix: string, dOut: number) =>
    b.one(
      'Gemm',
      scope,
      [
        input,
        b.weight(`${prefix}.weight`, [dOut, hidden], 0, INIT_SPREAD),
        b.weight(`${prefix}.bias`, [dOut], 0, INIT_SPREAD),
      ],
      { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 },
    );
  const pooled = b.one('Tanh', '/bert/pooler', [
    gemm('/bert/pooler/dense', first, 'bert.pooler.dense', hidden),
  ]);
  return gemm('/classifier', pooled, 'classifier', labels);
}

/** y + an explicit rank-`loraRank` adapter on x beside it (hidden -> hidden), as the attention projections carry. */
export function addLoraAdapter(
  b: ExportBuilder,
  scope: string,
  x: string,
  y: string,
  prefix: string,
  size: ModelSize,
): string {
  return b.one('Add', scope, [y, loraBranch(b, scope, x, prefix, size.hidden, size.hidden, size.loraRank)]);
}

/** The language models' tail: `logits` [1, seq, vocab] from `input_ids` [1, seq]. */
export function languageModelIO(b: ExportBuilder, size: ModelSize, logits: string): GraphIO {
  b.nodes.push({ op: 'Identity', name: '/Identity', inputs: [logits], outputs: ['logits'] });
  return {
    inputs: [{ name: 'input_ids', type: 'int64', shape: [1, size.seq] }],
    outputs: [{ name: 'logits', type: 'float', shape: [1, size.seq, size.vocab] }],
  };
}

/** The run-time lengths of a cache step, as int64 scalars: past (cached positions) and past + sequence. */
export interface CacheLengths {
  readonly past: string;
  readonly total: string;
}

/** Reads the cached length off `past_key_values.0.key` and the new positions off `input_ids` (Shape/Gather). */
export function cacheLengths(b: ExportBuilder, scope: string): CacheLengths {
  const dim = (input: string, axis: number) =>
    b.one(
      'Gather',
      scope,
      [b.one('Shape', scope, [input]), b.constant(scope, { type: 'int64', dims: [], values: [axis] })],
      {
        axis: 0,
      },
    );
  const past = dim('past_key_values.0.key', 2);
  return { past, total: b.one('Add', scope, [past, dim('input_ids', 1)]) };
}

/** Positions past..past+S-1 as [1, S] int64 (torch's arange(past, past + S).unsqueeze(0)). */
export function cachePositions(b: ExportBuilder, scope: string, at: CacheLengths): string {
  const one = b.constant(scope, { type: 'int64', dims: [], values: [1] });
  return b.one('Unsqueeze', scope, [b.one('Range', scope, [at.past, at.total, one]), b.ints(scope, [0])]);
}

/** x[from:to] along `axis`, with run-time scalar bounds. */
export function sliceBetween(
  b: ExportBuilder,
  scope: string,
  x: string,
  from: string,
  to: string,
  axis: number,
): string {
  const vec = (scalar: string) => b.one('Unsqueeze', scope, [scalar, b.ints(scope, [0])]);
  return b.one('Slice', scope, [x, vec(from), vec(to), b.ints(scope, [axis])]);
}

/** A [1, 1, M, M] mask table cut to the step: rows past..past+S-1 (the new positions), columns 0..past+S-1. */
export function stepMask(b: ExportBuilder, scope: string, table: string, at: CacheLengths): string {
  const zero = b.constant(scope, { type: 'int64', dims: [], values: [0] });
  return sliceBetween(b, scope, sliceBetween(b, scope, table, at.past, at.total, 2), zero, at.total, 3);
}

/**
 * Layer l's keys and values [1, h, S, d] appended to its cache inputs along the sequence axis;
 * the results [1, h, past + S, d] are the layer's `present.l.key|value` outputs.
 */
export function extendCache(
  b: ExportBuilder,
  scope: string,
  l: number,
  k: string,
  v: string,
): [string, string] {
  return (['key', 'value'] as const).map((kind, i) => {
    const all = b.one('Concat', scope, [`past_key_values.${l}.${kind}`, i === 0 ? k : v], { axis: 2 });
    b.nodes.push({
      op: 'Identity',
      name: `${scope}/Identity_${kind}`,
      inputs: [all],
      outputs: [`present.${l}.${kind}`],
    });
    return all;
  }) as [string, string];
}

/** The cache language models' inputs and outputs (see Family.buildCache). */
export function cacheLanguageModelIO(
  b: ExportBuilder,
  size: ModelSize,
  st: Structure,
  logits: string,
): GraphIO {
  b.nodes.push({ op: 'Identity', name: '/Identity', inputs: [logits], outputs: ['logits'] });
  const cache = (prefix: string, length: string) =>
    Array.from({ length: size.layers }, (_, l) =>
      (['key', 'value'] as const).map((kind) => ({
        name: `${prefix}.${l}.${kind}`,
        type: 'float' as const,
        shape: [1, st.headsOf(l), length, size.hidden / st.headsOf(l)],
      })),
    ).flat();
  return {
    inputs: [
      { name: 'input_ids', type: 'int64', shape: [1, 'sequence'] },
      ...cache('past_key_values', 'past_sequence'),
    ],
    outputs: [
      { name: 'logits', type: 'float', shape: [1, 'sequence', size.vocab] },
      ...cache('present', 'past_sequence + sequence'),
    ],
  };
}
