/**
 * Plan codegen (docs/cli.md, "What -o writes"): a readable TypeScript module, written with
 * ts-morph, that both parties run. It states the plan hash, the public
 * weights' names and hashes, and the op sequence (one object per node, each
 * preceded by its `.mir` line), and hands the literal to the runtime's
 * `definePlan`, which re-hashes the content and refuses a plan whose stated
 * hash does not match it (an edited plan).
 */
import { relative, dirname, resolve } from 'node:path';
import { IndentationText, Project, QuoteKind, VariableDeclarationKind } from 'ts-morph';
import type { CodeBlockWriter } from 'ts-morph';
import type { Graph } from '../../ir/graph.ts';
import { printNode } from '../../ir/print.ts';
import type { Plan, PlanSpec } from '../../runtime/plan.ts';
import { planSpec } from '../../runtime/plan.ts';

const RUNTIME_PLAN = resolve(import.meta.dirname, '../../runtime/plan.ts');

export interface CodegenOptions {
  /** Where the plan will be written (the runtime import is relative to it). */
  readonly outFile: string;
  /** The model it was compiled from, for the header. */
  readonly source: string;
  /** The command line that produced it, for the header. */
  readonly command: string;
}

function importPath(outFile: string): string {
  const rel = relative(dirname(resolve(outFile)), RUNTIME_PLAN)
    .split('\\')
    .join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

function literal(v: unknown): string {
  return JSON.stringify(v);
}

function writeNodes(w: CodeBlockWriter, spec: PlanSpec, graph: Graph): void {
  w.write('[').newLine();
  w.indent(() => {
    spec.nodes.forEach((n, i) => {
      w.writeLine(`// ${printNode(graph, graph.nodes[i]!)}`);
      const fields = [
        `op: ${literal(n.op)}`,
        `inputs: ${literal(n.inputs)}`,
        `outputs: ${literal(n.outputs)}`,
        `attrs: ${literal(n.attrs)}`,
        `placement: ${literal(n.placement)}`,
        ...(n.protocol !== undefined ? [`protocol: ${literal(n.protocol)}`] : []),
      ];
      w.writeLine(`{ ${fields.join(', ')} },`);
    });
  });
  w.write(']');
}

function writeSpec(w: CodeBlockWriter, spec: PlanSpec, graph: Graph): void {
  w.write('{').newLine();
  w.indent(() => {
    w.writeLine(`format: ${literal(spec.format)},`);
    w.writeLine(`name: ${literal(spec.name)},`);
    w.writeLine(`fracBits: ${spec.fracBits},`);
    w.writeLine(`inputs: ${literal(spec.inputs)},`);
    w.writeLine(`outputs: ${literal(spec.outputs)},`);
    w.write('values: [').newLine();
    w.indent(() => {
      for (const v of spec.values) w.writeLine(`${literal(v)},`);
    });
    w.writeLine('],');
    w.write('nodes: ');
    writeNodes(w, spec, graph);
    w.write(',').newLine();
    w.writeLine('hash: PLAN_HASH,');
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
    ` * marillc plan '${spec.name}', generated from ${opts.source}; do not edit (the runtime refuses a`,
    ' * plan whose content no longer matches its hash).',
    ` *   ${opts.command}`,
    ` * ${plan.graph.nodes.length} ops, ${mpcOps} under MPC; fixed point with ${spec.fracBits} fractional bits.`,
    ' * Run it with `marillc run` (one party) or `marillc simulate` (all parties).',
    ' */',
  ]);
  file.addImportDeclaration({ moduleSpecifier: importPath(opts.outFile), namedImports: ['definePlan'] });
  file.addImportDeclaration({
    moduleSpecifier: importPath(opts.outFile),
    namedImports: ['Plan', 'PlanSpec'],
    isTypeOnly: true,
  });
  file.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: ["SHA-256 of the plan's canonical content; the parties' handshake compares it."],
    declarations: [{ name: 'PLAN_HASH', initializer: literal(spec.hash) }],
  });
  file.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: ['Public weights (name -> content hash): what the client loads, checked by hash.'],
    declarations: [
      {
        name: 'PUBLIC_WEIGHTS',
        type: 'Readonly<Record<string, string>>',
        initializer: (w) => {
          w.write('{').newLine();
          w.indent(() => {
            for (const [name, hash] of Object.entries(plan.publicWeights))
              w.writeLine(`${literal(name)}: ${literal(hash)},`);
          });
          w.write('}');
        },
      },
    ],
  });
  file.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    docs: ['The op sequence both parties run; each node is preceded by its IR line.'],
    declarations: [{ name: 'spec', type: 'PlanSpec', initializer: (w) => writeSpec(w, spec, plan.graph) }],
  });
  file.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    declarations: [{ name: 'plan', type: 'Plan', initializer: 'definePlan(spec)' }],
  });
  file.addExportAssignment({ isExportEquals: false, expression: 'plan' });
  file.formatText({ indentSize: 2, convertTabsToSpaces: true });
  return file.getFullText();
}
