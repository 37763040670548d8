/**
 * The BERT-base generator, at a tiny configuration: the streamed file is a
 * valid ONNX model (onnxruntime-node runs it), the frontend lowers it with
 * all shape plumbing folded, and the two agree on random token ids.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadOnnx } from '../compiler/onnx/load.ts';
import { lowerOnnx } from '../compiler/onnx/lower.ts';
import { interpret } from '../ir/interpret.ts';
import { runOrt } from '../test/fixtures/ort.ts';
import { randomTensor } from '../test/fixtures/random.ts';
import { seededUniform } from '../ir/random.ts';
import type { BertConfig } from './gen-bert-base.ts';
import { BERT_BASE, generateBertBase } from './gen-bert-base.ts';
import { tensorMaxAbsDiff } from '../ir/tensor.ts';

const TINY: BertConfig = {
  layers: 2,
  hidden: 32,
  heads: 4,
  ffn: 64,
  vocab: 100,
  seq: 8,
  maxPositions: 16,
  typeVocab: 2,
  labels: 3,
  seed: 7,
};

/** Parameter count of a BERT classifier, by hand: embeddings + LN, per layer 4 attention + 2 FFN linears + 2 LN, pooler, classifier. */
function parameters(c: BertConfig): number {
  const h = c.hidden;
  const embeddings = (c.vocab + c.maxPositions + c.typeVocab) * h + 2 * h;
  const layer = 4 * (h * h + h) + (h * c.ffn + c.ffn) + (c.ffn * h + h) + 2 * 2 * h;
  return embeddings + c.layers * layer + (h * h + h) + (h * c.labels + c.labels);
}

test('BERT-base has the expected size (counted by hand: 109.5M parameters, ~438 MB)', () => {
  expect(parameters(BERT_BASE)).toBe(109_483_778);
});

test('a tiny configuration runs in onnxruntime and lowers to a matching static graph', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'marillc-bert-')), 'tiny.onnx');
  const generated = generateBertBase(path, TINY);
  expect(generated.parameters).toBe(parameters(TINY));
  expect(statSync(path).size).toBe(generated.bytes);
  expect(generated.bytes).toBeGreaterThan(4 * parameters(TINY));

  const rand = seededUniform(11);
  const feeds = new Map([
    ['input_ids', randomTensor('i64', [1, TINY.seq], rand, 0, TINY.vocab)],
    ['attention_mask', randomTensor('i64', [1, TINY.seq], rand, 0, 2)],
    ['token_type_ids', randomTensor('i64', [1, TINY.seq], rand, 0, TINY.typeVocab)],
  ]);
  const graph = lowerOnnx(loadOnnx(path), { file: path, shapes: generated.shapes });
  const ours = interpret(graph, feeds).get('logits')!;
  const theirs = (await runOrt(path, feeds)).get('logits')!;
  expect(ours.shape).toEqual([1, TINY.labels]);
  expect(tensorMaxAbsDiff(ours, theirs)).toBeLessThanOrEqual(1e-5);

  const ops = new Set(graph.nodes.map((n) => n.op));
  for (const folded of ['slice', 'concat', 'expand', 'equal']) expect(ops.has(folded as never)).toBe(false);
  expect(graph.nodes.filter((n) => n.op === 'softmax')).toHaveLength(TINY.layers);
  expect(graph.nodes.filter((n) => n.op === 'weight')).toHaveLength(5 + 16 * TINY.layers + 4);
});
