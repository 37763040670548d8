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
import { loadModel, parseShapeFlag } from './driver.ts';
import { readJsonOrFail, writeFileAtomic } from './fs-util.ts';

const EXAMPLES = `
Examples:
  $ marillc examples/bert/full.onnx --emit ir                  print the IR
  $ marillc examples/gpt2/base.onnx --shape input_ids=1x8 --emit ir
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
  emit?: string;
  output?: string;
}

interface EvalFlags {
  shape?: string[];
  input: string;
  out?: string;
}

function compileCommand(model: string, flags: CompileFlags): void {
  const g = loadModel(model, { shapes: shapesFrom(flags.shape) });
  emit(printGraph(g), flags.output);
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
    .addOption(
      new Option('--emit <what>', 'stop after this stage and print it').choices(['ir']).default('ir'),
    )
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
