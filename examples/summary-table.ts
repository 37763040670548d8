/**
 * Where the work of every example model runs, compiled the Marill way (`--base` = the
 * family's base model) and as the standard baseline (`--no-marill`), as one Markdown table
 * per family:
 *
 *     node bin/run-ts.js examples/summary-table.ts > summary.md
 *
 * The figures are `summarize(...)` of compiler/emit/summary.ts (its header defines every
 * column); "softmax rows in MPC" are the attention softmax rows computed under MPC, what
 * layer freezing and head merging reduce.
 */
import { pathToFileURL } from 'node:url';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import { loadModel, runPipeline } from '../compiler/driver.ts';
import type { CompileSummary } from '../compiler/emit/summary.ts';
import { summarize } from '../compiler/emit/summary.ts';
import type { BaseModel, CompileOptions } from '../passes/context.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import type { ExampleFamily, ExampleVariant } from './manifest.ts';
import { examplePath, findVariant, loadExamplesManifest } from './manifest.ts';

/** Compiles one variant as the CLI does (`--shape` from the manifest) and summarizes the placed graph. */
export function compileExample(
  family: ExampleFamily,
  variant: ExampleVariant,
  options: CompileOptions,
): CompileSummary {
  const shapes = Object.fromEntries(family.inputs.map((t) => [t.name, [...t.shape]]));
  const loaded = loadModel(examplePath(variant.file), { shapes });
  const { graph, notes } = runPipeline(loaded, options);
  return summarize(graph, notes);
}

const HEADER = [
  'variant',
  'compiled',
  'client ops',
  'server ops',
  'MPC ops',
  'client MACs',
  'MPC local MACs',
  'MPC secure MACs',
  'client non-linear',
  'MPC non-linear',
  'softmax rows in MPC',
  'public weights',
];

/** 1234567 -> "1,234,567". */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function summaryRow(variant: string, compiled: string, s: CompileSummary): string[] {
  const { client, server, mpc } = s.summary;
  const mpcRows = s.attention.filter((a) => a.placement === 'mpc').reduce((sum, a) => sum + a.rows, 0);
  const publicWeights = s.weights.filter((w) => w.public).length;
  return [
    variant,
    compiled,
    count(client.ops),
    count(server.ops),
    count(mpc.ops),
    count(client.macs),
    count(mpc.local_macs),
    count(mpc.secure_macs),
    count(client.nonlinear),
    count(mpc.nonlinear),
    count(mpcRows),
    `${publicWeights} / ${s.weights.length}`,
  ];
}

function markdownTable(rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  // Text columns left-aligned, figures right-aligned.
  const rule = HEADER.map((_, i) => (i < 2 ? '---' : '--:'));
  return [line(HEADER), line(rule), ...rows.map(line)].join('\n');
}

/** Variants that are a re-encoding of another one (base-external) compile to the same plan: left out. */
function distinctVariants(family: ExampleFamily): ExampleVariant[] {
  return family.variants.filter((v) => v.sameWeightsAs === undefined);
}

export function familyTable(family: ExampleFamily, base: BaseModel): string {
  const rows: string[][] = [];
  for (const variant of distinctVariants(family)) {
    const marill = compileExample(family, variant, { ...DEFAULT_OPTIONS, base });
    const baseline = compileExample(family, variant, { ...DEFAULT_OPTIONS, noMarill: true });
    rows.push(summaryRow(variant.name, '--base', marill), summaryRow('', '--no-marill', baseline));
  }
  const { layers, hidden, heads, seq } = family.config;
  return [
    `### ${family.name}`,
    '',
    `${family.summary}; ${layers} layers, hidden ${hidden}, ${heads} heads, sequence ${seq}.`,
    '',
    markdownTable(rows),
  ].join('\n');
}

export function summaryTables(): string {
  const manifest = loadExamplesManifest();
  const tables = manifest.families.map((family) =>
    familyTable(family, loadBaseModel(examplePath(findVariant(family, 'base').file))),
  );
  return `${tables.join('\n\n')}\n`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.stdout.write(summaryTables());
