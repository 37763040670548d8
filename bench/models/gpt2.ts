/**
 * GPT-2-style decoder, shaped like a torch export of Hugging Face's
 * GPT2LMHeadModel at a fixed sequence length: token + position embeddings,
 * pre-LN blocks, a fused c_attn [H, 3H] split into Q/K/V, the causal mask as a
 * boolean constant applied with Where against -1e4, the tanh GeLU ("gelu_new")
 * in Pow/Mul/Add/Tanh, a final LayerNorm and an lm_head tied to the token
 * embedding. LoRA on Q and V sits beside c_attn (q_lora, v_lora); merged, it
 * changes only the Q and V column blocks of c_attn's weight.
 */
import type { ExportBuilder } from './export-builder.ts';
import type { CacheLengths } from './blocks.ts';
import {
  addLoraAdapter,
  attend,
  cacheLanguageModelIO,
  cacheLengths,
  cachePositions,
  extendCache,
  languageModelIO,
  layerNorm,
  linear,
  mergeHeads,
  splitHeads,
  stepMask,
  tanhGelu,
} from './blocks.ts';
import { INIT_SPREAD } from './export-builder.ts';
import type { Family, GraphIO, ModelSize, Structure } from './spec.ts';
import { layerReader, sampleTokens } from './spec.ts';

const LAYER = 'transformer.h';

function causalMask(b: ExportBuilder, seq: number): string {
  const values = Array.from({ length: seq * seq }, (_, i) => (i % seq <= Math.floor(i / seq) ? 1 : 0));
  return b.constant('/transformer', { type: 'bool', dims: [1, 1, seq, seq], values });
}

/** With a cache (`cached`), keys and values extend the layer's cache and the sequence length is dynamic. */
function attention(
  b: ExportBuilder,
  s: ModelSize,
  st: Structure,
  l: number,
  x: string,
  keep: string,
  cached: boolean,
): string {
  const scope = `/transformer/h.${l}/attn`;
  const prefix = `${LAYER}.${l}.attn`;
  const heads = st.headsOf(l);
  const d = s.hidden / heads;
  const qkv = linear(b, scope, x, `${prefix}.c_attn`, s.hidden, 3 * s.hidden);
  const sizes = b.ints(scope, [s.hidden, s.hidden, s.hidden]);
  const [q0, k, v0] = b.node('Split', scope, [qkv, sizes], { axis: 2 }, 3) as [string, string, string];
  let [q, v] = [q0, v0];
  if (st.explicitLora(l)) {
    q = addLoraAdapter(b, scope, x, q, `${prefix}.q_lora`, s);
    v = addLoraAdapter(b, scope, x, v, `${prefix}.v_lora`, s);
  }
  const seq = cached ? -1 : s.seq;
  const split = (t: string) => splitHeads(b, scope, t, seq, heads, d);
  const queries = split(q);
  const [keys, values] = cached ? extendCache(b, scope, l, split(k), split(v)) : [split(k), split(v)];
  const context = attend(b, scope, queries, keys, values, d, { keep });
  return linear(
    b,
    scope,
    mergeHeads(b, scope, context, seq, s.hidden),
    `${prefix}.c_proj`,
    s.hidden,
    s.hidden,
  );
}

function block(
  b: ExportBuilder,
  s: ModelSize,
  st: Structure,
  l: number,
  x: string,
  keep: string,
  cached: boolean,
): string {
  const scope = `/transformer/h.${l}`;
  const prefix = `${LAYER}.${l}`;
  const ln1 = layerNorm(b, scope, x, `${prefix}.ln_1`, s.hidden, 1e-5);
  const h = b.one('Add', scope, [x, attention(b, s, st, l, ln1, keep, cached)]);
  const ln2 = layerNorm(b, scope, h, `${prefix}.ln_2`, s.hidden, 1e-5);
  const up = tanhGelu(
    b,
    `${scope}/mlp`,
    linear(b, `${scope}/mlp`, ln2, `${prefix}.mlp.c_fc`, s.hidden, s.ffn),
  );
  return b.one('Add', scope, [h, linear(b, `${scope}/mlp`, up, `${prefix}.mlp.c_proj`, s.ffn, s.hidden)]);
}

/** Without `maxPositions`: the fixed-length model; with it, the KV-cache export (Family.buildCache). */
function buildWith(b: ExportBuilder, s: ModelSize, st: Structure, maxPositions?: number): GraphIO {
  const scope = '/transformer';
  const rows = maxPositions ?? s.seq;
  const wte = b.weight('transformer.wte.weight', [s.vocab, s.hidden], 0, 0.5);
  // Named streams: the first s.seq rows of a longer table are the fixed-length model's table.
  const wpe = b.weight('transformer.wpe.weight', [rows, s.hidden], 0, INIT_SPREAD);
  const at: CacheLengths | undefined = maxPositions === undefined ? undefined : cacheLengths(b, scope);
  const positions = at
    ? cachePositions(b, scope, at)
    : b.constant(scope, {
        type: 'int64',
        dims: [1, s.seq],
        values: Array.from({ length: s.seq }, (_, i) => i),
      });
  const tokens = b.one('Gather', scope, [wte, 'input_ids']);
  let x = b.one('Add', scope, [tokens, b.one('Gather', scope, [wpe, positions])]);
  // torch: bias[:, :, k - q : k, :k] of the registered [1, 1, M, M] lower-triangular buffer.
  const keep = at ? stepMask(b, scope, causalMask(b, rows), at) : causalMask(b, s.seq);
  for (let l = 0; l < s.layers; l++) x = block(b, s, st, l, x, keep, at !== undefined);
  const final = layerNorm(b, scope, x, 'transformer.ln_f', s.hidden, 1e-5);
  const logits = b.one('MatMul', '/lm_head', [
    final,
    b.one('Transpose', '/lm_head', [wte], { perm: [1, 0] }),
  ]);
  return at ? cacheLanguageModelIO(b, s, st, logits) : languageModelIO(b, s, logits);
}

export const GPT2: Family = {
  name: 'gpt2',
  summary: 'GPT-2-style decoder (pre-LN, fused c_attn, causal Where mask, tanh GeLU, tied lm_head)',
  hasGelu: true,
  layerOf: layerReader(LAYER),
  isEmbedding: (name) => name.startsWith('transformer.wte.') || name.startsWith('transformer.wpe.'),
  loraColumns: (name, _dims, s) =>
    /\.attn\.c_attn\.weight$/.test(name)
      ? [
          [0, s.hidden],
          [2 * s.hidden, 3 * s.hidden],
        ]
      : [],
  build: (b, s, st) => buildWith(b, s, st),
  buildCache: (b, s, st, maxPositions) => buildWith(b, s, st, maxPositions),
  sampleInputs: (s) => ({ input_ids: [sampleTokens(s, 22)] }),
};
