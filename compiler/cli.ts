/**
 * The `marillc` command line (DESIGN.md §8).
 *
 * Exit codes: 0 success; 1 bad input (one line `marillc: error: ...`, a stack
 * trace only with --verbose); 2 bad usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { MarillError } from '../ir/errors.ts';
import { printGraph } from '../ir/print.ts';
import { interpret } from '../ir/interpret.ts';
import { readInputs, tensorToJson } from '../ir/tensor-json.ts';
import { loadModel, parseShapeFlag, runPipeline } from './driver.ts';
import { loadBaseModel } from './base-model.ts';
import { formatSummary, summarize } from './summary.ts';
import type { CompileOptions, GeluMode, SoftmaxMode } from '../passes/context.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import { readJsonOrFail, writeFileAtomic } from './fs-util.ts';

const EXAMPLES = `
Examples:
  $ marillc examples/gpt2/lora-merged.onnx --base examples/gpt2/base.onnx       where the work runs
  $ marillc examples/gpt2/frozen.onnx --base examples/gpt2/base.onnx --emit ir  the placed IR
  $ marillc examples/bert/full.onnx --shape input_ids=1x16 --shape attention_mask=1x16 --no-marill
  $ marillc examples/gpt2/full.onnx --gelu quad --softmax 2quad --report out.json
  $ marillc examples/gpt2/base.onnx --dump-after fuse
  $ marillc eval examples/bert/full.onnx --input examples/bert/input.json
  $ marillc eval model.mir --input in.json --out out.json`;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function shapesFrom(flags: readonly string[] | undefined): Record<string, number[]> {
  return Object.fromEntries((flags ?? []).map(parseShapeFlag));
}

function emit(text: string, out: string | undefined): void {
  if (out) writeFileAtomic(out, text);
  else process.stdout.write(text);
}

interface CompileFlags {
  shape?: string[];
  emit: 'summary' | 'ir';
  output?: string;
  base?: string;
  private?: string[];
  public?: string[];
  marill: boolean;
  gelu: GeluMode;
  softmax: SoftmaxMode;
  clientPost?: string[];
  loraMaxRank: string;
  loraTolerance: string;
  dumpAfter?: string[];
  report?: string;
}

interface EvalFlags {
  shape?: string[];
  input: string;
  out?: string;
}

function numberFlag(name: string, text: string, min: number): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v < min)
    throw new MarillError(`${name} expects a number >= ${min}, got '${text}'`);
  return v;
}

function compileOptions(flags: CompileFlags): CompileOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...(flags.base !== undefined ? { base: loadBaseModel(flags.base) } : {}),
    privateGlobs: flags.private ?? [],
    publicGlobs: flags.public ?? [],
    noMarill: !flags.marill,
    gelu: flags.gelu,
    softmax: flags.softmax,
    clientPost: flags.clientPost ?? [],
    loraMaxRank: numberFlag('--lora-max-rank', flags.loraMaxRank, 1),
    loraTolerance: numberFlag('--lora-tolerance', flags.loraTolerance, 0),
  };
}

function compileCommand(model: string, flags: CompileFlags): void {
  const options = compileOptions(flags);
  const loaded = loadModel(model, { shapes: shapesFrom(flags.shape) });
  const { graph, notes } = runPipeline(loaded, options, {
    dumpAfter: (flags.dumpAfter ?? []).flatMap((d) => d.split(',')),
    dump: (pass, g) => process.stderr.write(`// ----- IR after ${pass} -----\n${printGraph(g)}`),
  });
  const summary = summarize(graph, notes);
  if (flags.report) writeFileAtomic(flags.report, `${JSON.stringify(summary, null, 2)}\n`);
  emit(flags.emit === 'ir' ? printGraph(graph) : formatSummary(summary), flags.output);
}

function evalCommand(model: string, flags: EvalFlags): void {
  const g = loadModel(model, { shapes: shapesFrom(flags.shape) });
  const inputs = readInputs(g, readJsonOrFail(flags.input), flags.input);
  const outputs = interpret(g, inputs, { file: model });
  const json: Record<string, unknown> = {};
  for (const [name, t] of outputs) json[name] = tensorToJson(t);
  emit(`${JSON.stringify(json)}\n`, flags.out);
}

export function buildProgram(): Command {
  const program = new Command('marillc')
    .description('Compile fine-tuned ONNX models into two-party (MPC) inference plans, after Marill.')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run marillc --help for usage)')
    .addHelpText('after', EXAMPLES);

  program
    .command('compile <model>', { isDefault: true })
    .description('compile MODEL (.onnx or .mir)')
    .option('-o, --output <file>', 'write the result here instead of stdout')
    .option('--shape <name=DxD>', 'fix a dynamic input shape (repeatable)', collect)
    .option('--base <file>', 'the public base model: initializers with equal bytes are public')
    .option(
      '--private <glob>',
      'initializers matching GLOB are private (repeatable; wins over --public)',
      collect,
    )
    .option('--public <glob>', 'initializers matching GLOB are public (repeatable)', collect)
    .option('--no-marill', 'standard baseline: every weight private, nothing hoisted out of MPC')
    .addOption(
      new Option('--gelu <form>', 'GeLU form (MPCFormer: relu, quad)')
        .choices(['exact', 'tanh', 'relu', 'quad'])
        .default('exact'),
    )
    .addOption(
      new Option('--softmax <form>', 'softmax form (MPCFormer: 2quad)')
        .choices(['exact', '2quad'])
        .default('exact'),
    )
    .option(
      '--client-post <op>',
      'let the client apply OP after the reveal, e.g. softmax (repeatable)',
      collect,
    )
    .option(
      '--lora-max-rank <r>',
      'largest rank a merged LoRA split may have',
      String(DEFAULT_OPTIONS.loraMaxRank),
    )
    .option(
      '--lora-tolerance <t>',
      'relative error allowed in the low-rank fit',
      String(DEFAULT_OPTIONS.loraTolerance),
    )
    .addOption(
      new Option('--emit <what>', 'what to print: the placement summary or the IR')
        .choices(['summary', 'ir'])
        .default('summary'),
    )
    .option('--dump-after <pass>', 'print the IR to stderr after PASS (or all; repeatable)', collect)
    .option('--report <file>', 'write the summary as JSON')
    .action((model: string, flags: CompileFlags) => compileCommand(model, flags));

  program
    .command('eval <model>')
    .description('run MODEL in plaintext (the reference interpreter)')
    .requiredOption('--input <file>', 'input JSON: {"name": nested arrays}')
    .option('--out <file>', 'write outputs JSON here instead of stdout')
    .option('--shape <name=DxD>', 'fix a dynamic input shape (repeatable)', collect)
    .action((model: string, flags: EvalFlags) => evalCommand(model, flags));

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.commands.forEach((c) => c.exitOverride());
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version requests end here with exit code 0; everything else is bad usage.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof MarillError) {
      process.stderr.write(`marillc: error: ${e.format()}\n`);
      if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
      return 1;
    }
    const err = e as Error;
    process.stderr.write(`marillc: error: internal error: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
