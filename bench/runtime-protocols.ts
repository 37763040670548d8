/**
 * Per-protocol microbenchmarks for the runtime benchmark: each protocol run
 * with a real dealer and the in-process channel (test/runtime/two-party.ts),
 * timed, with its measured bytes and rounds next to the theoretical ones from
 * its `cost()`. Op protocols registered by anyone (runtime/protocols/registry.ts)
 * are included through sample nodes, so new protocols show up here untouched.
 */
import type { Attrs } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { inferTypes, normalizeAttrs } from '../ir/ops.ts';
import { makeTensor } from '../ir/tensor.ts';
import type { TensorType, Visibility } from '../ir/types.ts';
import { numel } from '../ir/types.ts';
import { Prg } from '../runtime/crypto/prg.ts';
import type { BoundOp, Cost, NodeSpec, Operand, Protocol } from '../runtime/protocol.ts';
import { beaverMatmul, beaverMul, beaverSquare } from '../runtime/protocols/beaver.ts';
import { fixedMul } from '../runtime/protocols/fixed-mul.ts';
import { protocolsFor } from '../runtime/protocols/registry.ts';
import { truncate } from '../runtime/protocols/truncate.ts';
import { weightMatmul } from '../runtime/protocols/weight-matmul.ts';
import { encodeFixed } from '../runtime/ring/fixed.ts';
import { TwoPartySession, shareReals, splitShares } from '../test/runtime/two-party.ts';

export interface ProtocolResult {
  name: string;
  /** What one "element" is (an output element unless stated). */
  elements: number;
  seconds: number;
  online_bytes_per_element: number;
  offline_bytes_per_element: number;
  setup_bytes_per_element: number;
  rounds: number;
  theoretical_online_bytes_per_element: number;
  theoretical_offline_bytes_per_element: number;
  theoretical_rounds: number;
}

function gaussian(n: number, scale: number): Float64Array {
  const u = new Uint32Array(Prg.fresh().bytes(8 * n).buffer);
  return Float64Array.from({ length: n }, (_, i) => {
    const a = (u[2 * i]! + 1) / 2 ** 32;
    const b = u[2 * i + 1]! / 2 ** 32;
    return scale * Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  });
}

function resultOf(name: string, elements: number, s: TwoPartySession, opId: string, c: Cost): ProtocolResult {
  const r = s.stats(opId);
  const per = (x: number) => x / elements;
  return {
    name,
    elements,
    seconds: Math.max(r.seconds[0], r.seconds[1]),
    online_bytes_per_element: per(r.onlineBytes[0] + r.onlineBytes[1]),
    offline_bytes_per_element: per(r.offlineBytes[0] + r.offlineBytes[1]),
    setup_bytes_per_element: per(r.setupBytes[0] + r.setupBytes[1]),
    rounds: r.rounds,
    theoretical_online_bytes_per_element: per(c.onlineBytes[0] + c.onlineBytes[1]),
    theoretical_offline_bytes_per_element: per(c.offlineBytes[0] + c.offlineBytes[1]),
    theoretical_rounds: c.rounds,
  };
}

async function timed<P, M, I, O>(
  name: string,
  protocol: Protocol<P, M, I, O>,
  params: P,
  inputs: readonly [I, I],
  elements: number,
): Promise<ProtocolResult> {
  const s = new TwoPartySession();
  await s.run(protocol, params, inputs, 'warmup');
  await s.run(protocol, params, inputs, 'op');
  return resultOf(name, elements, s, 'op', protocol.cost(params));
}

/** The core building blocks, on n elements (or an m x k x n product). */
async function coreProtocols(n: number): Promise<ProtocolResult[]> {
  const x = splitShares(encodeFixed(gaussian(n, 4), 16));
  const y = splitShares(encodeFixed(gaussian(n, 4), 16));
  const mm = { batch: 1, m: 128, k: 64, n: 64 };
  const a = splitShares(encodeFixed(gaussian(mm.m * mm.k, 1), 16));
  const b = splitShares(encodeFixed(gaussian(mm.k * mm.n, 1), 16));
  const wp = { side: 'right' as const, ...mm };
  const w = encodeFixed(gaussian(mm.k * mm.n, 1), 16);
  return [
    await timed('truncate', truncate, { n, bits: 16 }, [x[0], x[1]], n),
    await timed(
      'beaver.mul',
      beaverMul,
      { n },
      [
        [x[0], y[0]],
        [x[1], y[1]],
      ],
      n,
    ),
    await timed('beaver.square', beaverSquare, { n }, [x[0], x[1]], n),
    await timed(
      'fixed.mul',
      fixedMul,
      { n, fracBits: 16 },
      [
        [x[0], y[0]],
        [x[1], y[1]],
      ],
      n,
    ),
    await timed(
      'beaver.matmul 128x64x64',
      beaverMatmul,
      mm,
      [
        [a[0], b[0]],
        [a[1], b[1]],
      ],
      mm.m * mm.n,
    ),
    await timed(
      'beaver.weight 128x64x64',
      weightMatmul,
      wp,
      [
        { x: a[0], w },
        { x: a[1], w: undefined },
      ],
      mm.m * mm.n,
    ),
  ];
}

interface SampleNode {
  readonly op: OpName;
  readonly attrs?: Attrs;
  readonly inputs: readonly { type: TensorType; visibility: Visibility; scale?: number; offset?: number }[];
}

const f32 = (shape: number[]): TensorType => ({ dtype: 'f32', shape });

/** Sample nodes for op protocols: elementwise ones on `rows x cols`, row-wise ones on rows of `cols`. */
function sampleNodes(rows: number, cols: number): SampleNode[] {
  const secret = (scale = 3, offset = 0) => ({
    type: f32([rows, cols]),
    visibility: 'secret' as const,
    scale,
    offset,
  });
  const positive = { type: f32([rows, cols]), visibility: 'secret' as const, scale: 1, offset: 4 };
  const unary = (op: OpName, attrs?: Attrs, input = secret()): SampleNode => ({
    op,
    inputs: [input],
    ...(attrs ? { attrs } : {}),
  });
  const vec = (v: Visibility) => ({ type: f32([cols]), visibility: v, scale: 0.2, offset: 1 });
  return [
    unary('relu'),
    unary('gelu', { approx: 'erf' }),
    unary('gelu', { approx: 'tanh' }),
    unary('gelu', { approx: 'quad' }),
    unary('gelu', { approx: 'relu' }),
    unary('silu'),
    unary('sigmoid'),
    unary('tanh'),
    unary('exp', undefined, secret(3, -4)),
    unary('reciprocal', undefined, positive),
    unary('rsqrt', undefined, positive),
    unary('sqrt', undefined, positive),
    { op: 'max', inputs: [secret(), secret()] },
    { op: 'less', inputs: [secret(), secret()] },
    unary('reduce_max', { axes: [1], keepdims: 1 }),
    unary('argmax', { axis: 1, keepdims: 1 }),
    unary('softmax', { axis: -1, approx: 'exact' }),
    unary('softmax', { axis: -1, approx: '2quad' }),
    { op: 'layernorm', attrs: { axis: -1, epsilon: 1e-5 }, inputs: [secret(), vec('server'), vec('server')] },
    { op: 'rmsnorm', attrs: { axis: -1, epsilon: 1e-6 }, inputs: [secret(), vec('server')] },
  ];
}

function operandFor(
  party: 0 | 1,
  spec: SampleNode['inputs'][number],
  values: Float64Array,
  shares: [BigInt64Array, BigInt64Array],
): Operand {
  if (spec.visibility === 'secret')
    return { kind: 'share', share: { shape: spec.type.shape, data: shares[party] } };
  const owner = spec.visibility === 'server' ? 0 : 1;
  if (spec.visibility === 'public' || owner === party)
    return { kind: 'plain', tensor: makeTensor('f32', spec.type.shape, Float32Array.from(values)) };
  return { kind: 'hidden', type: spec.type };
}

/** Every registered op protocol that accepts a sample node, timed per output element. */
async function opProtocols(rows: number, cols: number): Promise<ProtocolResult[]> {
  const out: ProtocolResult[] = [];
  for (const sample of sampleNodes(rows, cols)) {
    const attrs = normalizeAttrs(sample.op, sample.attrs ?? {});
    const outputs = inferTypes(
      sample.op,
      sample.inputs.map((i) => i.type),
      attrs,
    );
    const spec: NodeSpec = { id: 'op', op: sample.op, attrs, inputs: sample.inputs, outputs };
    for (const protocol of protocolsFor(sample.op)) {
      let bound: BoundOp;
      try {
        bound = protocol.bind(spec, { fracBits: 16 });
      } catch {
        continue; // this protocol does not take this node
      }
      const values = sample.inputs.map((i) =>
        Float64Array.from(gaussian(numel(i.type.shape), i.scale ?? 1), (v) => v + (i.offset ?? 0)),
      );
      const shares = values.map((v) => shareReals(v));
      const operands = ([0, 1] as const).map((p) =>
        sample.inputs.map((i, k) => operandFor(p, i, values[k]!, shares[k]!)),
      );
      const s = new TwoPartySession();
      const label = `${protocol.name}:${sample.op}${sample.attrs?.['approx'] ? `.${String(sample.attrs['approx'])}` : ''}`;
      await s.runBound(bound, [operands[0]!, operands[1]!], 'warmup', label);
      await s.runBound(bound, [operands[0]!, operands[1]!], 'op', label);
      out.push(resultOf(label, numel(outputs[0]!.shape), s, 'op', bound.cost));
    }
  }
  return out;
}

export async function protocolBenchmarks(opts: {
  elements: number;
  rows: number;
  cols: number;
}): Promise<ProtocolResult[]> {
  return [...(await coreProtocols(opts.elements)), ...(await opProtocols(opts.rows, opts.cols))];
}
