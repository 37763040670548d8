/**
 * LLaMA-style decoder, shaped like a torch export of Hugging Face's
 * LlamaForCausalLM at a fixed sequence length: token embeddings, RMSNorm in
 * torch ops (Pow, ReduceMean, Add, Sqrt, Reciprocal, Mul), rotary position
 * embeddings (cos/sin tables as constants, rotate_half as Slice/Neg/Concat),
 * an additive causal mask, the SiLU-gated MLP, no biases, a final RMSNorm and
 * an untied lm_head. With merged heads the rotary tables follow the wider head
 * dimension (a model trained with merged heads has its own tables).
 */
import type { ExportBuilder } from './export-builder.ts';
import type { CacheLengths } from './blocks.ts';
import {
  addLoraAdapter,
  applyRotary,
  attend,
  cacheLanguageModelIO,
  cacheLengths,
  extendCache,
  languageModelIO,
  linear,
  mergeHeads,
  rmsNorm,
  rotaryTables,
  silu,
  sliceBetween,
  splitHeads,
  stepMask,
} from './blocks.ts';
import type { Family, GraphIO, ModelSize, Structure } from './spec.ts';
import { layerReader, sampleTokens } from './spec.ts';

const LAYER = 'model.layers';

function causalMask(b: ExportBuilder, seq: number): string {
  const min = -3.4028234663852886e38;
  const values = Array.from({ length: seq * seq }, (_, i) => (i % seq <= Math.floor(i / seq) ? 0 : min));
  return b.constant('/model', { type: 'float', dims: [1, 1, seq, seq], values });
}

/** With a cache (`at`), rotary angles of positions past.., keys/values extend the cache, lengths dynamic. */
function attention(
  b: ExportBuilder,
  s: ModelSize,
  st: Structure,
  l: number,
  x: string,
  mask: string,
  at: CacheLengths | undefined,
  rows: number,
): string {
  const scope = `/model/layers.${l}/self_attn`;
  const prefix = `${LAYER}.${l}.self_attn`;
  const heads = st.headsOf(l);
  const d = s.hidden / heads;
  const seq = at ? -1 : s.seq;
  const full = rotaryTables(b, scope, rows, d);
  const tables = at
    ? (full.map((t) => sliceBetween(b, scope, t, at.past, at.total, 2)) as [string, string])
    : full;
  const project = (name: string, adapted: boolean) => {
    let y = linear(b, scope, x, `${prefix}.${name}`, s.hidden, s.hidden, false);
    if (adapted && st.explicitLora(l)) y = addLoraAdapter(b, scope, x, y, `${prefix}.${name}`, s);
    return splitHeads(b, scope, y, seq, heads, d);
  };
  const q = applyRotary(b, scope, project('q_proj', true), tables, d);
  const k = applyRotary(b, scope, project('k_proj', false), tables, d);
  // The cache holds keys after the rotation, as HF's does.
  const [keys, values] = at
    ? extendCache(b, scope, l, k, project('v_proj', true))
    : [k, project('v_proj', true)];
  const context = attend(b, scope, q, keys, values, d, { add: mask });
  return linear(
    b,
    scope,
    mergeHeads(b, scope, context, seq, s.hidden),
    `${prefix}.o_proj`,
    s.hidden,
    s.hidden,
    false,
  );
}

function mlp(b: ExportBuilder, s: ModelSize, l: number, x: string): string {
  const scope = `/model/layers.${l}/mlp`;
  const prefix = `${LAYER}.${l}.mlp`;
  const gate = silu(b, scope, linear(b, scope, x, `${prefix}.gate_proj`, s.hidden, s.ffn, false));
  const up = linear(b, scope, x, `${prefix}.up_proj`, s.hidden, s.ffn, false);
  return linear(b, scope, b.one('Mul', scope, [gate, up]), `${prefix}.down_proj`, s.ffn, s.hidden, false);
}

/** Without `maxPositions`: the fixed-length model; with it, the KV-cache export (Family.buildCache). */
function buildWith(b: ExportBuilder, s: ModelSize, st: Structure, maxPositions?: number): GraphIO {
  const scope = '/model';
  const rows = maxPositions ?? s.seq;
  const table = b.weight('model.embed_tokens.weight', [s.vocab, s.hidden], 0, 1);
  const at: CacheLengths | undefined = maxPositions === undefined ? undefined : cacheLengths(b, scope);
  let x = b.one('Gather', scope, [table, 'input_ids']);
  const mask = at ? stepMask(b, scope, causalMask(b, rows), at) : causalMask(b, s.seq);
  for (let l = 0; l < s.layers; l++) {
    const layer = `/model/layers.${l}`;
    const norm1 = rmsNorm(b, layer, x, `${LAYER}.${l}.input_layernorm`, s.hidden);
    x = b.one('Add', layer, [x, attention(b, s, st, l, norm1, mask, at, rows)]);
    const norm2 = rmsNorm(b, layer, x, `${LAYER}.${l}.post_attention_layernorm`, s.hidden);
    x = b.one('Add', layer, [x, mlp(b, s, l, norm2)]);
  }
  const final = rmsNorm(b, scope, x, 'model.norm', s.hidden);
  const logits = linear(b, '/lm_head', final, 'lm_head', s.hidden, s.vocab, false);
  return at ? cacheLanguageModelIO(b, s, st, logits) : languageModelIO(b, s, logits);
}

export const LLAMA: Family = {
  name: 'llama',
  summary: 'LLaMA-style decoder (RMSNorm, rotary embeddings, SiLU-gated MLP, no biases, untied lm_head)',
  hasGelu: false,
  layerOf: layerReader(LAYER),
  isEmbedding: (name) => name.startsWith('model.embed_tokens.'),
  loraColumns: (name, dims) => (/\.self_attn\.(q_proj|v_proj)\.weight$/.test(name) ? [[0, dims[1]!]] : []),
  build: (b, s, st) => buildWith(b, s, st),
  buildCache: (b, s, st, maxPositions) => buildWith(b, s, st, maxPositions),
  sampleInputs: (s) => ({ input_ids: [[1, ...sampleTokens(s, 33, 3).slice(1)]] }),
};
