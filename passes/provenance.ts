/**
 * Pass `provenance`: decides which weights are public (docs/ir.md, "Visibility").
 *
 * Preconditions: weights carry their content hash (`attrs.hash`).
 * Algorithm, per `weight` node, first rule that applies:
 *   1. --no-marill                      -> private (the standard baseline)
 *   2. name matches a --private glob    -> private
 *   3. name matches a --public glob     -> public
 *   4. name looks like a LoRA adapter   -> private (lora_A / lora_B, any case)
 *   5. --base given: hash equals one of the base model's initializers -> public,
 *      else private. Matching is by content, not name: exporters rename weights.
 *   6. no base                          -> private
 * Then every value's visibility is re-derived by the join rule. Each decision
 * is recorded in ctx.notes.weights for the report.
 */
import type { Graph, ValueId } from '../ir/graph.ts';
import { stringAttr } from '../ir/ops.ts';
import type { Visibility } from '../ir/types.ts';
import type { CompileOptions, PassContext, WeightNote } from './context.ts';
import { matchesAny } from './glob.ts';
import type { Pass } from './manager.ts';
import { rederiveVisibility } from './visibility.ts';

// `lora_A` / `lora_B` not followed by a letter or digit (`lora_A.weight`, `lora_A_0`, but
// not `lora_bias`), or kohya-style `lora_up` / `lora_down`.
const LORA_NAME = /lora[_.-]?[ab](?![a-z0-9])|lora[_.-]?(up|down)/i;

export function isLoraAdapterName(name: string): boolean {
  return LORA_NAME.test(name);
}

export function classifyWeight(name: string, hash: string, options: CompileOptions): WeightNote {
  if (options.noMarill) return { name, public: false, reason: 'no-marill' };
  if (matchesAny(name, options.privateGlobs)) return { name, public: false, reason: 'private-glob' };
  if (matchesAny(name, options.publicGlobs)) return { name, public: true, reason: 'public-glob' };
  if (isLoraAdapterName(name)) return { name, public: false, reason: 'lora-adapter' };
  if (options.base) {
    const baseName = options.base.byHash.get(hash);
    return baseName !== undefined
      ? { name, public: true, reason: 'matches-base', baseName }
      : { name, public: false, reason: 'differs-from-base' };
  }
  return { name, public: false, reason: 'no-base' };
}

export const provenancePass: Pass = {
  name: 'provenance',
  summary: 'mark weights public (equal to a base initializer, or --public) or server-private',
  run(g: Graph, ctx: PassContext): Graph {
    const decided = new Map<ValueId, Visibility>();
    for (const n of g.nodes) {
      if (n.op !== 'weight') continue;
      const note = classifyWeight(stringAttr(n.attrs, 'name'), stringAttr(n.attrs, 'hash'), ctx.options);
      ctx.notes.weights.push(note);
      decided.set(n.outputs[0]!, note.public ? 'public' : 'server');
    }
    return rederiveVisibility(g, decided);
  },
};
