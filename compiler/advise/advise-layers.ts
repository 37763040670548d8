/**
 * Which transformer layer each weight of a model belongs to, for
 * `marillc advise`. Layer indices come from initializer names
 * (`layer.3.`, `layers.3.`, `h.3.`, `block.3.`); weights an exporter renamed
 * (`onnx::MatMul_812`) take the layer of the nearest named weight in the data
 * flow (a breadth-first walk over producers and users), which is the layer
 * whose bias, norm or neighbouring projection they sit beside.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Graph, Node, ValueId } from '../../ir/graph.ts';
import { producers, users } from '../../ir/graph.ts';
import { stringAttr } from '../../ir/ops.ts';

const LAYER_IN_NAME = /(?:^|[./_])(?:layer|layers|h|block|blocks)[._](\d+)[._]/;
const EMBEDDING_NAME = /emb|wte|wpe|position|token_type/i;
const GENERATED_NAME = /::/;

export type WeightPlace = { readonly layer: number } | { readonly part: 'embedding' | 'head' };

export interface LayerMap {
  readonly layers: number;
  /** Weight initializer name -> where it sits. */
  readonly places: ReadonlyMap<string, WeightPlace>;
}

function layerFromName(name: string): number | null {
  const m = LAYER_IN_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

/** The layer of the nearest weight (by data-flow distance) whose name states its layer. */
function nearestNamedLayer(g: Graph, start: ValueId, named: ReadonlyMap<ValueId, number>): number | null {
  const prod = producers(g);
  const use = users(g);
  const seen = new Set<ValueId>([start]);
  let frontier: ValueId[] = [start];
  while (frontier.length > 0) {
    const next: ValueId[] = [];
    for (const v of frontier) {
      const around: Node[] = [...(use.get(v) ?? []), ...(prod.has(v) ? [prod.get(v)!] : [])];
      for (const n of around)
        for (const w of [...n.inputs, ...n.outputs]) {
          if (seen.has(w)) continue;
          seen.add(w);
          const layer = named.get(w);
          if (layer !== undefined) return layer;
          next.push(w);
        }
    }
    frontier = next;
  }
  return null;
}

export function mapLayers(g: Graph, file?: string): LayerMap {
  const weights = g.nodes.filter((n) => n.op === 'weight' && n.tensor?.dtype === 'f32');
  const named = new Map<ValueId, number>();
  for (const w of weights) {
    const layer = layerFromName(stringAttr(w.attrs, 'name'));
    if (layer !== null) named.set(w.outputs[0]!, layer);
  }
  if (named.size === 0)
    throw new MarillError(
      "cannot identify the model's transformer layers: no initializer name holds a layer index (expected e.g. 'layer.3.', 'layers.3.', 'h.3.')",
      file !== undefined ? { file } : {},
    );
  const places = new Map<string, WeightPlace>();
  for (const w of weights) {
    const name = stringAttr(w.attrs, 'name');
    const own = named.get(w.outputs[0]!);
    const layer = own ?? (GENERATED_NAME.test(name) ? nearestNamedLayer(g, w.outputs[0]!, named) : null);
    if (layer !== null) places.set(name, { layer });
    else places.set(name, { part: EMBEDDING_NAME.test(name) ? 'embedding' : 'head' });
  }
  return { layers: Math.max(...named.values()) + 1, places };
}
