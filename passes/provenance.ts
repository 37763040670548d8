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
 *
 * Options that match nothing are reported (checkOptionsMatched), since each is
 * most likely a typo or the wrong file:
 *   - a --private glob that matches no weight: an error. The user meant to keep
 *     something private and the plan would not; it must not be written.
 *   - a --public glob that matches no weight: a warning. The plan is still correct
 *     (those weights stay private), only costlier than intended.
 *   - a --base of which no initializer equals a model weight: an error when no
 *     model weight has a base initializer's name and shape either (a base of
 *     another model: the user's public/private split would silently be "all
 *     private"); a warning when the names and shapes line up (the same model
 *     family, fully fine-tuned: every weight differs, which is a real answer).
 */
import { MarillError } from '../ir/errors.ts';
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

function sample(names: readonly string[]): string {
  const shown = names.slice(0, 3).map((n) => `'${n}'`);
  return names.length > 3 ? `${shown.join(', ')}, ... (${names.length} in all)` : shown.join(', ');
}

/** Errors for options that match nothing and cannot give the plan the user meant; warnings for the others. */
export function checkOptionsMatched(
  weights: readonly { name: string; shape: readonly number[] }[],
  notes: readonly WeightNote[],
  options: CompileOptions,
  warnings: string[],
): void {
  const names = weights.map((w) => w.name);
  const unmatched = (globs: readonly string[]) =>
    globs.filter((glob) => !names.some((n) => matchesAny(n, [glob])));
  const privateMisses = unmatched(options.privateGlobs);
  if (privateMisses.length > 0)
    throw new MarillError(
      `--private ${privateMisses.map((p) => `'${p}'`).join(', ')} matches no weight of the model (weights: ${sample(names)})`,
    );
  for (const glob of unmatched(options.publicGlobs))
    warnings.push(
      `--public '${glob}' matches no weight of the model (weights: ${sample(names)}); nothing made public by it`,
    );
  const base = options.base;
  if (!base || options.noMarill) return;
  const compared = notes.filter((n) => n.reason === 'matches-base' || n.reason === 'differs-from-base');
  if (compared.length === 0 || compared.some((n) => n.reason === 'matches-base')) return;
  const sameFamily = weights.some((w) => {
    const t = base.tensors.get(w.name);
    return t !== undefined && t.shape.length === w.shape.length && t.shape.every((d, i) => d === w.shape[i]);
  });
  if (!sameFamily)
    throw new MarillError(
      `shares no weight with the model: none of its ${base.tensors.size} initializers equals one of the model's ${weights.length} weights, and none has a weight's name and shape (the base of another model? without --base every weight is private)`,
      { file: base.file, what: '--base' },
    );
  warnings.push(
    `--base ${base.file}: no weight of the model equals one of the base's (a full fine-tune?); every weight stays private, as in the standard plan`,
  );
}

/**
 * A placed text IR (`--emit ir` prints one) compiles again only with the
 * decisions that placed it: its placements, shares and reveals follow from
 * them. Options that now decide a weight otherwise (typically no --base, so
 * public weights turn private) would leave it placed for other visibilities;
 * say so, and which forms do compile.
 */
function checkPlacedInput(g: Graph, decided: ReadonlyMap<ValueId, Visibility>): void {
  for (const n of g.nodes) {
    if (n.op !== 'weight' || n.placement === undefined) continue;
    const was = g.values.get(n.outputs[0]!)!.visibility;
    const now = decided.get(n.outputs[0]!)!;
    if (was === now) continue;
    throw new MarillError(
      `this IR is already placed with the weight ${was === 'public' ? 'public' : 'private'}, but these options make it ${now === 'public' ? 'public' : 'private'}: compile a placed IR with the options that placed it (the same --base, --private, --public), or compile the model itself or an IR printed before placement (--dump-after approximate)`,
      { what: `weight '${stringAttr(n.attrs, 'name')}'` },
    );
  }
}

export const provenancePass: Pass = {
  name: 'provenance',
  summary: 'mark weights public (equal to a base initializer, or --public) or server-private',
  run(g: Graph, ctx: PassContext): Graph {
    const decided = new Map<ValueId, Visibility>();
    const weights: { name: string; shape: readonly number[] }[] = [];
    const notes: WeightNote[] = [];
    for (const n of g.nodes) {
      if (n.op !== 'weight') continue;
      const name = stringAttr(n.attrs, 'name');
      const note = classifyWeight(name, stringAttr(n.attrs, 'hash'), ctx.options);
      weights.push({ name, shape: g.values.get(n.outputs[0]!)!.type.shape });
      notes.push(note);
      decided.set(n.outputs[0]!, note.public ? 'public' : 'server');
    }
    checkOptionsMatched(weights, notes, ctx.options, ctx.notes.warnings);
    checkPlacedInput(g, decided);
    ctx.notes.weights.push(...notes);
    return rederiveVisibility(g, decided);
  },
};
