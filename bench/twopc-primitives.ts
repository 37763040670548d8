/**
 * Kernel rates of the dealer-free primitives (runtime/twopc/) on this machine:
 * base OTs, random and correlated OT extension, Beaver, AND and weight
 * (matrix) triples. Both parties run in this one process over the in-process
 * channel pair, so a time is both parties' work on one thread (a two-process
 * run would overlap them). Each row has its measured traffic next to the cost
 * function's prediction. From the rates, the cost of the products of one
 * BERT-base-size layer by the OT (Gilboa) route; docs/dealer-free.md compares
 * it with the homomorphic-encryption route.
 *
 *   npx tsx bench/twopc-primitives.ts   -> bench/results/twopc-primitives.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Prg } from '../runtime/crypto/prg.ts';
import type { Ring } from '../runtime/ring/kernels.ts';
import { cotCost, cotReceive, cotSend, rotCost, rotReceive, rotSend } from '../runtime/twopc/iknp.ts';
import type { Meter, PairCost } from '../runtime/twopc/link.ts';
import { meteredPair } from '../runtime/twopc/link.ts';
import type { MatmulShape, OtSession } from '../runtime/twopc/triples.ts';
import {
  andTriples,
  andTriplesCost,
  beaverTriples,
  beaverTriplesCost,
  matrixTripleCost,
  otSessionSetup,
  otSessionSetupCost,
  weightTriple,
  weightTripleCost,
} from '../runtime/twopc/triples.ts';

const seed = (label: string) => new Prg(new Uint8Array(16)).derive(`bench ${label}`);

interface Row {
  readonly name: string;
  readonly items: number;
  readonly unit: string;
  readonly seconds: number;
  readonly per_second: number;
  readonly bytes: readonly [number, number];
  readonly bytes_per_item: number;
  readonly flights: number;
  readonly predicted_exact: boolean;
}

async function timed(
  name: string,
  items: number,
  unit: string,
  meter: Meter,
  predicted: PairCost,
  run: () => Promise<unknown>,
): Promise<Row> {
  const before = meter.cost();
  const t = performance.now();
  await run();
  const seconds = (performance.now() - t) / 1000;
  const after = meter.cost();
  const bytes: [number, number] = [after.bytes[0] - before.bytes[0], after.bytes[1] - before.bytes[1]];
  const flights = after.flights - before.flights + (before.last === predicted.first ? 1 : 0);
  const row: Row = {
    name,
    items,
    unit,
    seconds,
    per_second: items / seconds,
    bytes,
    bytes_per_item: (bytes[0] + bytes[1]) / items,
    flights,
    predicted_exact:
      bytes[0] === predicted.bytes[0] && bytes[1] === predicted.bytes[1] && flights === predicted.flights,
  };
  console.log(
    `${name}: ${items} ${unit} in ${seconds.toFixed(2)} s, ${row.bytes_per_item.toFixed(1)} B/${unit}`,
  );
  return row;
}

export async function runTwoPcPrimitives(): Promise<unknown> {
  const rows: Row[] = [];
  const { links, meter } = meteredPair();
  let s: [OtSession, OtSession] | undefined;
  rows.push(
    await timed(
      'base OT setup, both directions (2 x 128 Chou-Orlandi OTs)',
      256,
      'base OT',
      meter,
      otSessionSetupCost(),
      async () => {
        s = await Promise.all([otSessionSetup(links[0], seed('s0')), otSessionSetup(links[1], seed('s1'))]);
      },
    ),
  );
  const [s0, s1] = s!;

  const m = 1 << 21;
  const choices = seed('c')
    .bytes(m / 8)
    .slice();
  rows.push(
    await timed('random OT (IKNP, 128-bit messages)', m, 'OT', meter, rotCost(m, 1, 0), () =>
      Promise.all([rotSend(s0.sender, links[0], m), rotReceive(s1.receiver, links[1], choices, m)]),
    ),
  );
  const delta = seed('d').ring(m).slice();
  rows.push(
    await timed('correlated OT over Z_2^64', m, 'OT', meter, cotCost(m, 1, 0), () =>
      Promise.all([
        cotSend(
          s0.sender,
          links[0],
          m,
          1,
          (from, count) => delta.subarray(from, from + count),
          () => {},
        ),
        cotReceive(s1.receiver, links[1], choices, m, 1, () => {}),
      ]),
    ),
  );
  const n = 1 << 14;
  rows.push(
    await timed(
      'arithmetic Beaver triples (Gilboa, both cross terms)',
      n,
      'triple',
      meter,
      beaverTriplesCost(n),
      () => Promise.all([beaverTriples(s0, n, seed('b0')), beaverTriples(s1, n, seed('b1'))]),
    ),
  );
  const nAnd = 1 << 21;
  rows.push(
    await timed('AND triples (two random OTs each)', nAnd, 'triple', meter, andTriplesCost(nAnd), () =>
      Promise.all([andTriples(s0, nAnd, seed('a0')), andTriples(s1, nAnd, seed('a1'))]),
    ),
  );
  // Weight triples at two output widths: their times fit t = alpha OTs + beta OTs w.
  const weightRows: { shape: MatmulShape; row: Row }[] = [];
  for (const shape of [
    { n: 16, k: 64, w: 16 },
    { n: 16, k: 64, w: 256 },
  ]) {
    const a: Ring = seed('wa')
      .ring(shape.n * shape.k)
      .slice();
    const b: Ring = seed('wb')
      .ring(shape.k * shape.w)
      .slice();
    const macs = shape.n * shape.k * shape.w;
    const row = await timed(
      `weight triple [${shape.n},${shape.k}]x[${shape.k},${shape.w}] (client A, server B)`,
      macs,
      'MAC',
      meter,
      weightTripleCost(shape),
      () => Promise.all([weightTriple(s0, shape, b), weightTriple(s1, shape, a)]),
    );
    rows.push(row);
    weightRows.push({ shape, row });
  }
  // The shape of one projection of a BERT layer at hidden 128, sequence 32 (not in the fit).
  {
    const shape: MatmulShape = { n: 32, k: 128, w: 128 };
    const a: Ring = seed('la')
      .ring(shape.n * shape.k)
      .slice();
    const b: Ring = seed('lb')
      .ring(shape.k * shape.w)
      .slice();
    rows.push(
      await timed(
        `weight triple [${shape.n},${shape.k}]x[${shape.k},${shape.w}] (client A, server B)`,
        shape.n * shape.k * shape.w,
        'MAC',
        meter,
        weightTripleCost(shape),
        () => Promise.all([weightTriple(s0, shape, b), weightTriple(s1, shape, a)]),
      ),
    );
  }
  const ots = (sh: MatmulShape) => 64 * sh.n * sh.k;
  const [lo, hi] = weightRows;
  const beta =
    (hi!.row.seconds / ots(hi!.shape) - lo!.row.seconds / ots(lo!.shape)) / (hi!.shape.w - lo!.shape.w);
  const alpha = lo!.row.seconds / ots(lo!.shape) - beta * lo!.shape.w;
  const weightSeconds = (sh: MatmulShape) => ots(sh) * (alpha + beta * sh.w);

  // One BERT-base-size layer, sequence 128: Q, K, V, output projections and the two FFN
  // products by server-private weights; the 12 heads' QK^T and PV are secret x secret.
  const seq = 128;
  const hidden = 768;
  const weightShapes: MatmulShape[] = [
    ...Array.from({ length: 4 }, () => ({ n: seq, k: hidden, w: hidden })),
    { n: seq, k: hidden, w: 4 * hidden },
    { n: seq, k: 4 * hidden, w: hidden },
  ];
  const headShapes: MatmulShape[] = [
    ...Array.from({ length: 12 }, () => ({ n: seq, k: 64, w: seq })),
    ...Array.from({ length: 12 }, () => ({ n: seq, k: seq, w: 64 })),
  ];
  const total = (shapes: MatmulShape[], f: (sh: MatmulShape) => PairCost) =>
    shapes.reduce((acc, sh) => acc + f(sh).bytes[0] + f(sh).bytes[1], 0);
  const layer = {
    sequence: seq,
    hidden,
    weight_macs: weightShapes.reduce((a, sh) => a + sh.n * sh.k * sh.w, 0),
    weight_products_bytes: total(weightShapes, weightTripleCost),
    weight_products_seconds_one_thread: weightShapes.reduce((a, sh) => a + weightSeconds(sh), 0),
    attention_macs: headShapes.reduce((a, sh) => a + sh.n * sh.k * sh.w, 0),
    attention_products_bytes: total(headShapes, matrixTripleCost),
    attention_products_seconds_one_thread: headShapes.reduce((a, sh) => a + 2 * weightSeconds(sh), 0),
    model: 'time per weight triple = 64 n k (alpha + beta w) seconds, fitted on the two weight-triple rows',
    alpha_seconds_per_ot: alpha,
    beta_seconds_per_ot_element: beta,
  };
  const result = {
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    rows,
    bert_base_layer_ot_route: layer,
  };
  mkdirSync(join('bench', 'results'), { recursive: true });
  writeFileSync(join('bench', 'results', 'twopc-primitives.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runTwoPcPrimitives();
  console.log(JSON.stringify((r as { bert_base_layer_ot_route: unknown }).bert_base_layer_ot_route, null, 2));
}
