/**
 * A decoder exported with a KV cache (runtime/generate/cache-layout.ts), read once and
 * lowered at each step's shape on demand (the IR is statically shaped; a generation has a
 * prefill shape and one shape per decode step). Shapes are fixed by input name, from the
 * declared heads and head_dim of the past inputs, so the symbolic dimension names a
 * particular exporter chose do not matter.
 */
import { extname } from 'node:path';
import type { Graph } from '../../ir/graph.ts';
import { MarillError } from '../../ir/errors.ts';
import type { CacheLayout } from '../../runtime/generate/cache-layout.ts';
import { cacheLayout } from '../../runtime/generate/cache-layout.ts';
import type { StepShape } from '../../runtime/generate/schedule.ts';
import { lowerLoadedOnnx } from '../driver.ts';
import { loadOnnx } from '../onnx/load.ts';
import type { OnnxModel } from '../onnx/model.ts';

export class CacheModel {
  private readonly graphs = new Map<string, Graph>();

  private constructor(
    readonly path: string,
    private readonly onnx: OnnxModel,
    readonly layout: CacheLayout,
    /** [heads, head_dim] of each past input, from its declaration. */
    private readonly pastDims: ReadonlyMap<string, readonly [number, number]>,
  ) {}

  /** Reads an .onnx model and recognises its cache layout; a MarillError naming the file if it has none. */
  static open(path: string): CacheModel {
    if (extname(path).toLowerCase() !== '.onnx')
      throw new MarillError('generation needs an .onnx decoder exported with a KV cache', { file: path });
    const onnx = loadOnnx(path);
    try {
      const layout = cacheLayout(
        onnx.inputs.map((i) => i.name),
        onnx.outputs.map((o) => o.name),
      );
      const pastDims = new Map<string, readonly [number, number]>();
      for (const e of layout.entries) {
        const dims = onnx.inputs.find((i) => i.name === e.past)!.dims;
        const [heads, headDim] = [dims?.[1], dims?.[3]];
        if (dims?.length !== 4 || typeof heads !== 'number' || typeof headDim !== 'number')
          throw new MarillError(
            `expected [batch, heads, past, head_dim] with fixed heads and head_dim, declared [${(dims ?? []).join(',')}]`,
            { what: `input '${e.past}'` },
          );
        pastDims.set(e.past, [heads, headDim]);
      }
      return new CacheModel(path, onnx, layout, pastDims);
    } catch (e) {
      if (e instanceof MarillError) throw e.inFile(path);
      throw e;
    }
  }

  /** Every input's shape at a step: the `--shape` flags (by input name) of that step. */
  shapesAt(shape: StepShape): Record<string, number[]> {
    const { sequence, past } = shape;
    const shapes: Record<string, number[]> = { input_ids: [1, sequence] };
    if (this.layout.attentionMask) shapes['attention_mask'] = [1, past + sequence];
    if (this.layout.positionIds) shapes['position_ids'] = [1, sequence];
    for (const [name, [heads, headDim]] of this.pastDims) shapes[name] = [1, heads, past, headDim];
    return shapes;
  }

  /** The graph lowered at this step's shape (lowered once per shape). */
  graphAt(shape: StepShape): Graph {
    const key = `${shape.sequence}/${shape.past}`;
    let g = this.graphs.get(key);
    if (g === undefined) {
      g = lowerLoadedOnnx(this.onnx, this.path, { shapes: this.shapesAt(shape) });
      this.graphs.set(key, g);
    }
    return g;
  }

  /** The vocabulary size: the last dimension of `logits` (of the one-token prefill graph). */
  vocab(): number {
    const g = this.graphAt({ sequence: 1, past: 0 });
    const out = g.outputs.find((o) => o.name === 'logits')!;
    const shape = g.values.get(out.value)!.type.shape;
    if (shape.length !== 3)
      throw new MarillError(`expected logits [batch, sequence, vocab], got [${shape.join(',')}]`, {
        file: this.path,
        what: "output 'logits'",
      });
    return shape[2]!;
  }
}
