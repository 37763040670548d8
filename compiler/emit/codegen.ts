/**
 * Plan codegen (docs/plans.md): a readable TypeScript module, written with ts-morph, that
 * states the plan as data. Its one `spec` literal holds the plan hash and the
 * op sequence (one object per node, each preceded by its `.mir` line); the
 * module imports the runtime's plan API by package name (`marillc/plan`) and
 * exports `definePlan(spec)`. marillc itself never runs the module: it reads
 * the literal (../party/plan-module.ts), checks the hash and the
 * information-flow rules, and refuses any statement it did not write here
 * (./plan-layout.ts). See docs/plans.md.
 *
 * Private weights appear with their keyed hashes only (runtime/plan.ts), in
 * the literal and in the comments.
 */
import { CodeBlockWriter, IndentationText, Project, QuoteKind, VariableDeclarationKind } from 'ts-morph';
import type { Graph, Node } from '../../ir/graph.ts';
import { printNode } from '../../ir/print.ts';
import type { Plan, PlanSpec } from '../../runtime/plan.ts';
import { planSpec } from '../../runtime/plan.ts';
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import { generationPlanSpec, stepKey } from '../../runtime/generate/plan.ts';
import {
  GENERATION_EPILOGUE,
  GENERATION_PROLOGUE,
  GENERATION_SPEC_TYPE,
  PLAN_EPILOGUE,
  PLAN_PROLOGUE,
  SPEC_NAME,
  SPEC_TYPE,
} from './plan-layout.ts';

export interface CodegenOptions {
  /** The model it was compiled from, for the header. */
  readonly source: string;
  /** The command line that produced it, for the header. */
  readonly command: string;
}

function literal(v: unknown): string {
  return JSON.stringify(v);
}

/** The node's IR line for the comment above it; a private weight's hash is labelled as keyed. */
function nodeComment(graph: Graph, n: Node): string {
  const line = printNode(graph, n);
  const isPrivateWeight = n.op === 'weight' && graph.values.get(n.outputs[0]!)?.visibility === 'server';
  return isPrivateWeight ? line.replace('#sha256:', '#hmac-sha256:') : line;
}

function writeNodes(w: CodeBlockWriter, spec: PlanSpec, graph: Graph): void {
  w.write('[').newLine();
  w.indent(() => {
    spec.nodes.forEach((n, i) => {
      w.writeLine(`// ${nodeComment(graph, graph.nodes[i]!)}`);
      const fields = [
        `"op": ${literal(n.op)}`,
        `"inputs": ${literal(n.inputs)}`,
        `"outputs": ${literal(n.outputs)}`,
        `"attrs": ${literal(n.attrs)}`,
        `"placement": ${literal(n.placement)}`,
        ...(n.protocol !== undefined ? [`"protocol": ${literal(n.protocol)}`] : []),
      ];
      w.writeLine(`{ ${fields.join(', ')} },`);
    });
  });
  w.write(']');
}

/** The spec as one JSON-compatible literal (quoted keys; comments only between nodes). */
function writeSpec(w: CodeBlockWriter, spec: PlanSpec, graph: Graph): void {
  w.write('{').newLine();
  w.indent(() => {
    w.writeLine(`"format": ${literal(spec.format)},`);
    w.writeLine('// SHA-256 of the canonical content below; both parties and the dealer compare it.');
    w.writeLine(`"hash": ${literal(spec.hash)},`);
    w.writeLine(`"name": ${literal(spec.name)},`);
    w.writeLine(`"fracBits": ${spec.fracBits},`);
    if (spec.setting !== undefined) {
      w.writeLine('// No dealer: the server and the client make the correlated randomness themselves.');
      w.writeLine(`"setting": ${literal(spec.setting)},`);
    }
    if (spec.clientPost !== undefined) w.writeLine(`"clientPost": ${literal(spec.clientPost)},`);
    w.writeLine(`"inputs": ${literal(spec.inputs)},`);
    w.writeLine(`"outputs": ${literal(spec.outputs)},`);
    w.write('"values": [').newLine();
    w.indent(() => {
      for (const v of spec.values) w.writeLine(`${literal(v)},`);
    });
    w.writeLine('],');
    w.write('"nodes": ');
    writeNodes(w, spec, graph);
    w.write(',').newLine();
  });
  w.write('}');
}

/** The text of plan.ts for a placed, protocol-selected plan. */
export function generatePlanModule(plan: Plan, opts: CodegenOptions): string {
  const spec = planSpec(plan);
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Single },
  });
  const file = project.createSourceFile('plan.ts');
  const mpcOps = plan.graph.nodes.filter((n) => n.placement === 'mpc').length;
  file.addStatements([
    '/**',
    ` * marillc plan '${spec.name}', generated from ${opts.source}.`,
    ` *   ${opts.command}`,
    ` * ${plan.graph.nodes.length} ops, ${mpcOps} under MPC; fixed point with ${spec.fracBits} fractional bits.`,
    ' *',
    ' * The plan is data: marillc reads the `spec` literal below without running this module, and',
    ' * refuses a plan whose content no longer matches its hash, that breaks the information-flow',
    ' * rules, or that holds any statement marillc did not write (docs/plans.md). Do not edit it.',
    ' * Read it with `marillc inspect`; run it with `marillc run` (one party) or `marillc simulate`.',
    ' */',
    ...PLAN_PROLOGUE,
  ]);
  file.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    docs: ['The plan: placed IR as data. Each node is preceded by its IR line.'],
    declarations: [{ name: SPEC_NAME, type: SPEC_TYPE, initializer: (w) => writeSpec(w, spec, plan.graph) }],
  });
  file.addStatements([...PLAN_EPILOGUE]);
  file.formatText({ indentSize: 2, convertTabsToSpaces: true });
  return file.getFullText();
}

/**
 * The text of plan.ts for a generation plan: every step's plan spec, each as a
 * single plan's is written. Written with a CodeBlockWriter directly rather than
 * through a ts-morph source file: with one plan per step shape the text runs to
 * megabytes, which ts-morph would parse and format again for nothing.
 */
export function generateGenerationPlanModule(plan: GenerationPlan, opts: CodegenOptions): string {
  const spec = generationPlanSpec(plan);
  const w = new CodeBlockWriter({ indentNumberOfSpaces: 2, useSingleQuote: true });
  const kept = (v: 'client' | 'secret') =>
    spec.state
      .filter((s) => s.visibility === v)
      .map((s) => s.input)
      .join(', ') || 'none';
  for (const line of [
    '/**',
    ` * marillc generation plan '${spec.name}', generated from ${opts.source}.`,
    ` *   ${opts.command}`,
    ` * ${spec.steps.length} step plans (prefill of 1..${spec.maxContext} tokens, decode at past 1..${spec.maxContext - 1});`,
    ` * each reveals only the last position's '${spec.logits}' to the client. Fixed point with ${spec.fracBits} fractional bits.`,
    ` * Cache kept by the client in plaintext: ${kept('client')}.`,
    ` * Cache kept as the parties' shares, never revealed: ${kept('secret')}.`,
    ' *',
    ' * The plan is data: marillc reads the `spec` literal below without running this module, and',
    ' * refuses a plan whose content no longer matches its hash, that breaks the information-flow',
    ' * rules, or that holds any statement marillc did not write (docs/plans.md). Do not edit it.',
    ' * Read it with `marillc inspect`.',
    ' */',
    ...GENERATION_PROLOGUE,
    '',
    '/** The generation plan: settings, then one plan per step shape (placed IR as data). */',
  ])
    w.writeLine(line);
  w.write(`const ${SPEC_NAME}: ${GENERATION_SPEC_TYPE} = {`).newLine();
  w.indent(() => {
    w.writeLine(`"format": ${literal(spec.format)},`);
    w.writeLine(
      "// SHA-256 over the settings and every step plan's hash; both parties and the dealer compare it.",
    );
    w.writeLine(`"hash": ${literal(spec.hash)},`);
    w.writeLine(`"name": ${literal(spec.name)},`);
    w.writeLine(`"fracBits": ${spec.fracBits},`);
    w.writeLine(`"maxContext": ${spec.maxContext},`);
    w.writeLine(`"tokens": ${literal(spec.tokens)},`);
    w.writeLine(`"logits": ${literal(spec.logits)},`);
    w.write('"state": [').newLine();
    w.indent(() => {
      for (const s of spec.state) w.writeLine(`${literal(s)},`);
    });
    w.writeLine('],');
    w.write('"steps": [').newLine();
    w.indent(() => {
      for (const step of spec.steps) {
        const graph = plan.steps.get(stepKey(step))!.graph;
        w.writeLine(`// ---- step {sequence: ${step.sequence}, past: ${step.past}} ----`);
        w.write(`{ "sequence": ${step.sequence}, "past": ${step.past}, "plan": `);
        writeSpec(w, step.plan, graph);
        w.write(' },').newLine();
      }
    });
    w.writeLine('],');
  });
  w.writeLine('};');
  w.blankLine();
  for (const line of GENERATION_EPILOGUE) w.writeLine(line);
  return w.toString();
}
