/**
 * Placed transformer layers built by hand with GraphBuilder, for end-to-end
 * runtime tests and benchmarks: one BERT-style encoder layer (post-LN,
 * padding mask, erf GeLU) and one GPT-style decoder layer (pre-LN, causal
 * mask, tanh GeLU). The client holds the hidden-state input (as after frozen
 * layers run on its side), the layer's weights are server-private (a
 * fine-tuned layer), and the output is revealed to the client.
 *
 * Weights come from a seeded generator, so two processes building the same
 * layer with the same seed get the same plan. `nonlinear: false` builds the
 * same data flow with the non-linear ops left out (identity), for testing the
 * linear plumbing alone.
 */
import { GraphBuilder } from '../../ir/builder.ts';
import type { Graph, ValueId } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { Prg } from '../../runtime/crypto/prg.ts';

export interface LayerOptions {
  readonly seq: number;
  readonly hidden: number;
  readonly heads: number;
  readonly ffn: number;
  /** Seeds the weights (16-byte PRG seed derived from it). */
  readonly seed: number;
  /** Include softmax, layernorm and gelu (default true). */
  readonly nonlinear?: boolean;
}

export const SMALL_LAYER: Omit<LayerOptions, 'seed'> = { seq: 8, hidden: 32, heads: 2, ffn: 64 };

/** Deterministic uniform values in [-scale, scale) from a seed and a label. */
function seededTensor(
  seed: number,
  label: string,
  shape: readonly number[],
  scale: number,
  offset = 0,
): Tensor {
  const seedBytes = new Uint8Array(16);
  new DataView(seedBytes.buffer).setUint32(0, seed >>> 0);
  const n = shape.reduce((a, b) => a * b, 1);
  const words = new Uint32Array(
    new Prg(seedBytes)
      .derive(label)
      .bytes(4 * n)
      .buffer.slice(0),
  );
  return makeTensor(
    'f32',
    shape,
    Float32Array.from(words, (w) => offset + ((w / 2 ** 32) * 2 - 1) * scale),
  );
}

/** A client hidden-state input for a layer. */
export function layerInput(opts: LayerOptions, inputSeed: number): Tensor {
  return seededTensor(inputSeed, 'input', [1, opts.seq, opts.hidden], 1);
}

class LayerBuilder {
  readonly b: GraphBuilder;
  private readonly mpc = { placement: 'mpc' as const };
  /** Prepended to weight names, so stacked layers have distinct weights ('' for a single layer). */
  prefix = '';

  constructor(
    name: string,
    readonly o: LayerOptions,
  ) {
    this.b = new GraphBuilder(name);
  }

  serverWeight(name: string, shape: readonly number[], scale: number, offset = 0): ValueId {
    const full = `${this.prefix}${name}`;
    return this.b.addWeight(
      full,
      'server',
      { tensor: seededTensor(this.o.seed, full, shape, scale, offset) },
      { placement: 'server' },
    );
  }

  constant(values: Float32Array, shape: readonly number[]): ValueId {
    return this.b.addConst(makeTensor('f32', shape, values), { placement: 'both' });
  }

  op(
    op: Parameters<GraphBuilder['add1']>[0],
    inputs: ValueId[],
    attrs: Record<string, number | string | number[]> = {},
    protocol?: string,
  ): ValueId {
    return this.b.add1(op, inputs, attrs, protocol ? { ...this.mpc, protocol } : this.mpc);
  }

  get nonlinear(): boolean {
    return this.o.nonlinear ?? true;
  }

  /** x W + b with a server-private W and b. */
  dense(x: ValueId, name: string, inDim: number, outDim: number): ValueId {
    const w = this.serverWeight(`${name}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim));
    const bias = this.serverWeight(`${name}.bias`, [outDim], 0.05);
    return this.op('add', [this.op('matmul', [x, w], {}, 'beaver.weight'), bias]);
  }

  layernorm(x: ValueId, name: string): ValueId {
    if (!this.nonlinear) return x;
    const scale = this.serverWeight(`${name}.weight`, [this.o.hidden], 0.1, 1);
    const bias = this.serverWeight(`${name}.bias`, [this.o.hidden], 0.05);
    return this.op('layernorm', [x, scale, bias], { axis: -1, epsilon: 1e-5 });
  }

  gelu(x: ValueId, approx: 'erf' | 'tanh'): ValueId {
    return this.nonlinear ? this.op('gelu', [x], { approx }) : x;
  }

  /** Multi-head self-attention on [1, S, H]; `mask` is an additive f32 mask broadcast onto the scores (softmax only). */
  attention(x: ValueId, mask: ValueId): ValueId {
    const { seq: S, hidden: H, heads: nh } = this.o;
    const hd = H / nh;
    const heads = (v: ValueId, perm: number[]) =>
      this.op('transpose', [this.op('reshape', [v], { shape: [1, S, nh, hd] })], { perm });
    const q = heads(this.dense(x, 'attn.q', H, H), [0, 2, 1, 3]); // [1, nh, S, hd]
    const kT = heads(this.dense(x, 'attn.k', H, H), [0, 2, 3, 1]); // [1, nh, hd, S]
    const v = heads(this.dense(x, 'attn.v', H, H), [0, 2, 1, 3]);
    const scores = this.op('matmul', [q, kT], {}, 'beaver'); // [1, nh, S, S]
    const scaled = this.op('mul', [scores, this.constant(Float32Array.of(1 / Math.sqrt(hd)), [])]);
    // Without non-linear ops, averaging (1/S) stands in for softmax so magnitudes stay O(1).
    const probs = this.nonlinear
      ? this.op('softmax', [scaled, mask], { axis: -1 })
      : this.op('mul', [scaled, this.constant(Float32Array.of(1 / S), [])]);
    const ctx = this.op('matmul', [probs, v], {}, 'beaver'); // [1, nh, S, hd]
    const merged = this.op('reshape', [this.op('transpose', [ctx], { perm: [0, 2, 1, 3] })], {
      shape: [1, S, H],
    });
    return this.dense(merged, 'attn.out', H, H);
  }

  ffn(x: ValueId, approx: 'erf' | 'tanh'): ValueId {
    const { hidden: H, ffn: F } = this.o;
    return this.dense(this.gelu(this.dense(x, 'ffn.up', H, F), approx), 'ffn.down', F, H);
  }
}

function finish(l: LayerBuilder, out: ValueId): Graph {
  const y = l.b.add1('reveal', [out], { to: 'client' }, { placement: 'mpc' });
  l.b.setOutputs([{ name: 'hidden_out', value: y }]);
  return l.b.build();
}

/** One post-LN BERT block on shared hidden states `x`. */
function bertBlock(l: LayerBuilder, x: ValueId, mask: ValueId): ValueId {
  const h1 = l.layernorm(l.op('add', [l.attention(x, mask), x]), 'attn.norm');
  return l.layernorm(l.op('add', [l.ffn(h1, 'erf'), h1]), 'ffn.norm');
}

/**
 * BERT-style encoder: `layers` (default 1) post-LN blocks with a padding mask
 * (last position masked), erf GeLU FFN. With more than one layer, weights are
 * named `layer<i>.<name>`; one layer keeps the plain names.
 */
export function bertEncoderLayer(opts: LayerOptions & { readonly layers?: number }): Graph {
  const l = new LayerBuilder('bert_layer', opts);
  const { seq: S, hidden: H } = opts;
  const layers = opts.layers ?? 1;
  const x = l.b.addInput('hidden_in', { dtype: 'f32', shape: [1, S, H] }, 'client');
  let h = l.b.add1('share', [x], { from: 'client' }, { placement: 'mpc' });
  // padding mask: the last position is padding (additive -1e4 as in BERT's extended attention mask)
  const pad = Float32Array.from({ length: S }, (_, j) => (j === S - 1 ? -1e4 : 0));
  const mask = l.constant(pad, [1, 1, 1, S]);
  for (let i = 0; i < layers; i++) {
    l.prefix = layers > 1 ? `layer${i}.` : '';
    h = bertBlock(l, h, mask);
  }
  return finish(l, h);
}

/** GPT-style decoder layer: pre-LN, causal attention mask, tanh GeLU FFN. */
export function gptDecoderLayer(opts: LayerOptions): Graph {
  const l = new LayerBuilder('gpt_layer', opts);
  const { seq: S, hidden: H } = opts;
  const x = l.b.addInput('hidden_in', { dtype: 'f32', shape: [1, S, H] }, 'client');
  const xs = l.b.add1('share', [x], { from: 'client' }, { placement: 'mpc' });
  const causal = Float32Array.from({ length: S * S }, (_, i) => (i % S > Math.floor(i / S) ? -1e4 : 0));
  const mask = l.constant(causal, [1, 1, S, S]);
  const h = l.op('add', [xs, l.attention(l.layernorm(xs, 'ln_1'), mask)]);
  const out = l.op('add', [h, l.ffn(l.layernorm(h, 'ln_2'), 'tanh')]);
  return finish(l, out);
}

export const LAYERS = { bert: bertEncoderLayer, gpt: gptDecoderLayer } as const;
export type LayerKind = keyof typeof LAYERS;

/** Weights of a layer graph: all for the server, the public ones for the client. */
export function layerWeights(g: Graph, party: 'server' | 'client'): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const n of g.nodes) {
    if (n.op !== 'weight') continue;
    const vis = g.values.get(n.outputs[0]!)!.visibility;
    if (party === 'server' || vis === 'public') out.set(String(n.attrs['name']), n.tensor!);
  }
  return out;
}
