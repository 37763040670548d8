/**
 * The `marillc` command line (DESIGN.md §8): option declarations only; each
 * command's work is in compiler/cli/commands/, loaded when that command runs (so
 * `--help` and usage errors answer at once).
 *
 * Exit codes: 0 success; 1 bad input (one line `marillc: error: ...`, a stack
 * trace only with --verbose); 2 bad usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { MarillError } from '../../ir/errors.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { collect } from './commands/common.ts';
import type { AdviseFlags } from './commands/advise.ts';
import type { CompileFlags } from './commands/compile.ts';
import type { EvalFlags } from './commands/eval.ts';
import type { RunFlags, SimulateFlags } from './commands/run.ts';
import type { ServeFlags } from './commands/serve.ts';

const EXAMPLES = `
Examples:
  $ marillc examples/gpt2/lora-merged.onnx --base examples/gpt2/base.onnx -o out/plan.ts
  $ marillc simulate out/plan.ts --server-model out/plan.server.onnx --client-model examples/gpt2/base.onnx \\
      --input examples/gpt2/input.json
  $ marillc run out/plan.ts --party dealer --listen 127.0.0.1:7001 &
  $ marillc run out/plan.ts --party server --model out/plan.server.onnx --listen 127.0.0.1:7000 --dealer 127.0.0.1:7001 &
  $ marillc run out/plan.ts --party client --model examples/gpt2/base.onnx --connect 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --input examples/gpt2/input.json
  $ marillc examples/gpt2/frozen.onnx --base examples/gpt2/base.onnx --emit ir      the placed IR
  $ marillc examples/gpt2/full.onnx --no-marill --emit cost --network wan          per-op costs
  $ marillc examples/bert/full.onnx --shape input_ids=1x16 --shape attention_mask=1x16 --gelu quad
  $ marillc eval examples/gpt2/full.onnx --input examples/gpt2/input.json
  $ marillc advise examples/gpt2/base.onnx --network wan                          what to fine-tune`;

const TIMEOUT_S = '60';

function addTlsOptions(cmd: Command): Command {
  return cmd
    .option('--tls-cert <pem>', "this party's TLS certificate (with --tls-key and --tls-ca)")
    .option('--tls-key <pem>', "this party's TLS private key")
    .option('--tls-ca <pem>', 'the CA that signed every party of the session');
}

export function buildProgram(argv: readonly string[]): Command {
  const program = new Command('marillc')
    .description('Compile fine-tuned ONNX models into two-party (MPC) inference plans, after Marill.')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run marillc --help for usage)')
    .addHelpText('after', EXAMPLES);

  program
    .command('compile <model>', { isDefault: true })
    .description('compile MODEL (.onnx or .mir) into a two-party plan')
    .option('-o, --output <plan.ts>', 'write the plan module (and its weight bundles beside it)')
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
      new Option('--setting <s>', 'who makes the correlated randomness: a dealer process or files')
        .choices(['2pc-dealer'])
        .default('2pc-dealer'),
    )
    .option('--network <profile>', 'optimise for lan, wan, or BW,LAT (Mbit/s, ms one-way)', 'lan')
    .option('--frac-bits <f>', 'fixed-point fractional bits', String(DEFAULT_FRAC_BITS))
    .addOption(
      new Option(
        '--emit <what>',
        'what to print: the placement summary, the IR, the per-op cost table, or a Graphviz graph',
      )
        .choices(['summary', 'ir', 'cost', 'dot'])
        .default('summary'),
    )
    .option('--dump-after <pass>', 'print the IR to stderr after PASS (or all; repeatable)', collect)
    .option('--report <file>', 'write the summary and predicted costs as JSON')
    .action(async (model: string, flags: CompileFlags) =>
      (await import('./commands/compile.ts')).compileCommand(model, flags, argv),
    );

  program
    .command('eval <model>')
    .description('run MODEL in plaintext (the reference interpreter)')
    .requiredOption('--input <file>', 'input JSON: {"name": nested arrays}')
    .option('--out <file>', 'write outputs JSON here instead of stdout')
    .option('--shape <name=DxD>', 'fix a dynamic input shape (repeatable)', collect)
    .action(async (model: string, flags: EvalFlags) =>
      (await import('./commands/eval.ts')).evalCommand(model, flags),
    );

  program
    .command('advise <base>')
    .description(
      'estimated MPC cost by number of fine-tuned top layers and head-merge factor, before training',
    )
    .option('--network <profile>', 'lan, wan, or BW,LAT (Mbit/s, ms one-way)', 'lan')
    .option('--shape <name=DxD>', 'fix a dynamic input shape (repeatable)', collect)
    .option('--frac-bits <f>', 'fixed-point fractional bits', String(DEFAULT_FRAC_BITS))
    .option('--report <file>', 'write the table as JSON')
    .action(async (base: string, flags: AdviseFlags) =>
      (await import('./commands/advise.ts')).adviseCommand(base, flags),
    );

  addTlsOptions(
    program
      .command('run <plan>')
      .description('run one party of a plan (server, client or dealer) over TCP')
      .addOption(
        new Option('--party <party>', 'which party this process is')
          .choices(['server', 'client', 'dealer'])
          .makeOptionMandatory(),
      )
      .option(
        '--model <file>',
        'server: fine-tuned model or server bundle; client: base model or client bundle',
      )
      .option('--listen <host:port>', 'wait for the other party (or, for the dealer, both parties) here')
      .option('--connect <host:port>', 'connect to the other party here')
      .option('--dealer <host:port>', 'a live dealer process')
      .option('--dealer-dir <dir>', 'dealer material generated ahead (the dealer writes it with this flag)')
      .option('--inferences <n>', 'dealer with --dealer-dir: inferences of material to generate', '1')
      .option(
        '--input <file>',
        'client: input JSON (repeat for several inferences in one session; - reads stdin)',
        collect,
      )
      .option(
        '--out <file>',
        'client: write outputs JSON here instead of stdout (an array when several --input)',
      )
      .option(
        '--report <file>',
        "write this party's measured costs as JSON (client: setup and each inference apart)",
      )
      .option('--timeout <seconds>', 'give up on a silent peer after this long', TIMEOUT_S),
  ).action(async (plan: string, flags: RunFlags) =>
    (await import('./commands/run.ts')).runCommand(plan, flags),
  );

  addTlsOptions(
    program
      .command('serve <plan>')
      .description(
        'serve a plan until SIGTERM/SIGINT: the server (one session per client, many at once) or a live dealer for many sessions',
      )
      .addOption(
        new Option('--party <party>', 'which party this process is')
          .choices(['server', 'dealer'])
          .makeOptionMandatory(),
      )
      .option('--model <file>', 'server: fine-tuned model or server bundle')
      .requiredOption('--listen <host:port>', 'where clients (or, for the dealer, the parties) connect')
      .option('--dealer <host:port>', 'server: a live dealer process (marillc serve --party dealer)')
      .option('--dealer-dir <dir>', "server: dealer material generated ahead (the server's folder)")
      .option('--max-sessions <n>', 'sessions at once; one more client is refused with a message', '16')
      .option('--handshake-timeout <seconds>', 'end a connection that does not complete its hello', '10')
      .option('--timeout <seconds>', 'end a session whose peer is silent this long mid-session', TIMEOUT_S)
      .option('--grace <seconds>', 'on SIGTERM: how long running inferences may take to finish', '30')
      .option('--ahead-mib <n>', 'dealer: memory for material dealt ahead, all sessions together', '512')
      .option('--log-json', 'one JSON object per log line')
      .addHelpText(
        'after',
        `
Examples:
  $ marillc serve out/plan.ts --party dealer --listen 127.0.0.1:7001 &
  $ marillc serve out/plan.ts --party server --model out/plan.server.onnx --listen 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --max-sessions 32 &
  $ marillc run out/plan.ts --party client --model examples/gpt2/base.onnx --connect 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --input a.json --input b.json --out outputs.json`,
      ),
  ).action(async (plan: string, flags: ServeFlags) =>
    (await import('./commands/serve.ts')).serveCommand(plan, flags),
  );

  program
    .command('simulate <plan>')
    .description(
      'run every party of a plan from one command (real sockets on loopback) and compare with plaintext',
    )
    .option('--server-model <file>', 'fine-tuned model or server bundle')
    .option('--client-model <file>', 'base model or client bundle')
    .option('--input <file>', 'client input JSON')
    .option('--out <file>', 'write outputs JSON here')
    .option('--report <file>', 'write predicted and measured costs and the error as JSON')
    .option('--network <profile>', 'network profile for the time estimate', 'lan')
    .option('--timeout <seconds>', 'give up on a silent party after this long', TIMEOUT_S)
    .action(async (plan: string, flags: SimulateFlags) =>
      (await import('./commands/run.ts')).simulateCommand(plan, flags),
    );

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram(argv);
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
