/**
 * ONNX model -> IR graph.
 *
 * Conventions (shared with the passes that follow):
 *  - graph inputs keep their ONNX names as value ids and are `client` values;
 *  - float initializers become `weight` nodes, `server` (private) until weight
 *    provenance says otherwise; integer/bool initializers and Constant nodes
 *    are compile-time constants (indices and shapes, not learned weights);
 *  - shape plumbing (Shape -> Gather -> Concat -> Reshape, ConstantOfShape,
 *    Range, ...) folds to constants, and shape operands become attributes;
 *  - every IR node's `origin` is the ONNX node it came from.
 * Each ONNX op type has one rule in ops/*.ts.
 */
import { basename, extname } from 'node:path';
import { GraphBuilder } from '../../ir/builder.ts';
import { MarillError } from '../../ir/errors.ts';
import type { Location } from '../../ir/errors.ts';
import type { Graph, GraphOutput } from '../../ir/graph.ts';
import { removeDeadNodes, renumber } from '../../ir/graph.ts';
import { formatShape } from '../../ir/types.ts';
import { resolveInputTypes } from './input-shapes.ts';
import type { Val } from './lower-context.ts';
import { LoweringState, NodeContext, constVal, typeOf } from './lower-context.ts';
import type { OnnxModel, OnnxNode, OnnxValueInfo } from './model.ts';
import { loweringOrder } from './node-order.ts';
import { loweringRule } from './ops/index.ts';

export interface LowerOptions {
  /** The model file, for error messages. */
  readonly file: string;
  /** Static shapes for dynamic dimensions, by input or dimension name (`--shape input_ids=1x16`, `--shape sequence=16`). */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** The shapes of the input data at hand (eval), for dimensions still dynamic (input-shapes.ts). */
  readonly dataShapes?: Readonly<Record<string, readonly number[]>>;
}

export function lowerOnnx(model: OnnxModel, opts: LowerOptions): Graph {
  const { file } = opts;
  const builder = new GraphBuilder(
    graphNameOf(model, file),
    model.inputs.map((i) => i.name),
  );
  const state = new LoweringState(builder, file);

  const inputTypes = resolveInputTypes(model.inputs, opts.shapes ?? {}, file, opts.dataShapes);
  model.inputs.forEach((input, i) => {
    const id = builder.addInput(input.name, inputTypes[i]!, 'client');
    state.bind(input.name, { kind: 'ir', id, type: inputTypes[i]! });
  });
  for (const [name, init] of model.initializers) {
    if (init.tensor.dtype === 'f32') state.bindWeight(name, init.tensor);
    else state.bind(name, constVal(init.tensor));
  }

  for (const node of loweringOrder(model.nodes, file)) lowerNode(state, node, opsetOf(model, node), file);

  builder.setOutputs(model.outputs.map((o) => graphOutput(state, o, file)));
  return renumber(removeDeadNodes(builder.build()));
}

function lowerNode(state: LoweringState, node: OnnxNode, opset: number, file: string): void {
  const rule = node.domain === '' ? loweringRule(node.opType) : undefined;
  if (!rule) {
    const domain = node.domain === '' ? '' : `domain ${node.domain}, `;
    throw new MarillError(`unsupported op '${node.opType}' (${domain}opset ${opset})`, {
      file,
      what: `node '${node.name}'`,
    });
  }
  const ctx = new NodeContext(state, node, opset);
  let outs: readonly Val[];
  try {
    outs = rule(ctx);
  } catch (e) {
    throw located(e, ctx.loc);
  }
  node.outputs.forEach((name, k) => {
    if (name === '') return;
    const v = outs[k];
    if (v) state.bind(name, v);
    else state.markUnavailable(name, `output ${k} of node '${node.name}' (${node.opType}) is not supported`);
  });
}

/** Gives an error raised below the node level (op table, shape rules, kernels) the node's location. */
function located(e: unknown, loc: Location): MarillError {
  if (e instanceof MarillError) {
    if (e.location.what !== undefined) return e;
    const out = new MarillError(e.message, { ...e.location, ...loc });
    out.stack = e.stack;
    return out;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new MarillError(`internal error while lowering: ${msg}`, loc);
}

function graphOutput(state: LoweringState, output: OnnxValueInfo, file: string): GraphOutput {
  const loc = { file, what: `output '${output.name}'` };
  const v = state.lookup(output.name, loc);
  const t = typeOf(v);
  if (output.dtype && output.dtype !== t.dtype)
    throw new MarillError(`declared ${output.elemType}, but the graph computes ${t.dtype}`, loc);
  const declared = output.dims;
  if (
    declared &&
    (declared.length !== t.shape.length || declared.some((d, i) => typeof d === 'number' && d !== t.shape[i]))
  )
    throw new MarillError(
      `declared shape [${declared.map((d) => d ?? '?').join(',')}], but the graph computes ${formatShape(t.shape)}`,
      loc,
    );
  return { name: output.name, value: state.materialize(v, output.name) };
}

function opsetOf(model: OnnxModel, node: OnnxNode): number {
  return model.opsets.get(node.domain) ?? 1;
}

function graphNameOf(model: OnnxModel, file: string): string {
  return model.graphName || basename(file, extname(file)) || 'model';
}
