/**
 * The stages of the compiler driver (compiler/driver.ts), as one table:
 * what `marillc MODEL --emit STAGE` stops after and prints. Each pass of
 * passes/pipeline.ts (and the protocol selection the driver inserts) belongs
 * to exactly one IR stage; the IR stages list them in pipeline order, and the
 * driver refuses a pipeline they do not describe. The output stages come after
 * the whole pipeline and print its result in another form.
 *
 * A module of its own, importing nothing, so that the command line can list
 * the stages in --help without loading the compiler.
 */

/** What `--emit` prints when the pipeline stops at a stage. */
export type StageOutput = 'ir' | 'cost' | 'dot' | 'plan' | 'summary';

export interface Stage {
  readonly name: string;
  /** One line for --help. */
  readonly doc: string;
  /** The pipeline passes that make this stage, by name, in order (after the earlier stages' passes). */
  readonly passes: readonly string[];
  readonly prints: StageOutput;
}

export const STAGES = [
  {
    name: 'onnx',
    doc: 'the IR as loaded, before any pass (from the ONNX frontend, or the .mir file)',
    passes: [],
    prints: 'ir',
  },
  {
    name: 'cleaned',
    doc: 'constants folded, common subexpressions merged, dead nodes removed',
    passes: ['cleanup'],
    prints: 'ir',
  },
  {
    name: 'fused',
    doc: 'GeLU, LayerNorm, RMSNorm, SiLU and softmax patterns fused into single ops',
    passes: ['fuse', 'cleanup'],
    prints: 'ir',
  },
  {
    name: 'approximated',
    doc: 'the --gelu/--softmax MPC-friendly replacements applied',
    passes: ['approximate'],
    prints: 'ir',
  },
  {
    name: 'placed',
    doc: 'weights public or private, LoRA split, visibilities, share/reveal and placements',
    passes: ['provenance', 'lora-split', 'place', 'relocate', 'dce'],
    prints: 'ir',
  },
  {
    name: 'selected',
    doc: "each MPC op's protocol chosen for the --network",
    passes: ['select-protocols'],
    prints: 'ir',
  },
  {
    name: 'verified',
    doc: 'the final IR, its information flow verified',
    passes: ['verify-flow'],
    prints: 'ir',
  },
  { name: 'ir', doc: 'the final IR (as verified)', passes: [], prints: 'ir' },
  { name: 'cost', doc: 'the per-op cost table', passes: [], prints: 'cost' },
  { name: 'dot', doc: 'the final IR as a Graphviz graph', passes: [], prints: 'dot' },
  {
    name: 'plan',
    doc: 'the plan module -o would write (default ./plan.ts), to stdout',
    passes: [],
    prints: 'plan',
  },
  {
    name: 'summary',
    doc: 'where the work runs and what it costs (the default)',
    passes: [],
    prints: 'summary',
  },
] as const satisfies readonly Stage[];

export type StageName = (typeof STAGES)[number]['name'];

export const STAGE_NAMES: readonly StageName[] = STAGES.map((s) => s.name);

export function stageIndex(name: StageName): number {
  return STAGES.findIndex((s) => s.name === name);
}

/** Whether stopping after `name` runs the whole pipeline (so there is a plan to write and cost). */
export function completesPipeline(name: StageName): boolean {
  return STAGES.slice(stageIndex(name) + 1).every((s) => s.passes.length === 0);
}

/** The stages as --help lists them. */
export function stagesHelp(): string {
  const width = Math.max(...STAGES.map((s) => s.name.length));
  return STAGES.map((s) => `  ${s.name.padEnd(width)}  ${s.doc}`).join('\n');
}
