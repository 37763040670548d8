/**
 * The `marillc` command line (docs/cli.md): option declarations only; each
 * command's work is in compiler/cli/commands/, loaded when that command runs (so
 * `--help` and usage errors answer at once).
 *
 * Exit codes: 0 success; 1 bad input (one line `marillc: error: ...`, a stack
 * trace only with --verbose); 2 bad usage.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { MarillError } from '../../ir/errors.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { DEFAULT_PLAINTEXT_ENGINE, PLAINTEXT_ENGINES } from '../../runtime/plaintext/engine.ts';
import { DEFAULT_SETTING, SETTINGS } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { STAGE_NAMES, completesPipeline, stagesHelp } from '../stages.ts';
import { NETWORKS, parseNetwork } from '../backend/network.ts';
import { UsageError, collect, fracBitsFlag, numberFlag } from './commands/common.ts';
import type { CertsFlags } from './commands/certs.ts';
import type { AdviseFlags } from './commands/advise.ts';
import type { CompileFlags } from './commands/compile.ts';
import type { EvalFlags } from './commands/eval.ts';
import type { InspectFlags } from './commands/inspect.ts';
import type { RunFlags, SimulateFlags } from './commands/run.ts';
import type { ServeFlags } from './commands/serve.ts';

const EXAMPLES = `
Examples:
  $ marillc examples/gpt2/lora-merged.onnx --base examples/gpt2/base.onnx -o out/plan.ts
  $ marillc simulate out/plan.ts --server-model out/plan.server.onnx --client-model examples/gpt2/base.onnx \\
      --input examples/gpt2/input.json
  $ marillc certs --out certs                        a CA and a key + certificate per party
  $ marillc run out/plan.ts --party dealer --listen 127.0.0.1:7001 --certs certs &
  $ marillc run out/plan.ts --party server --model out/plan.server.onnx --listen 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --certs certs &
  $ marillc run out/plan.ts --party client --model examples/gpt2/base.onnx --connect 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --certs certs --input examples/gpt2/input.json
  $ marillc examples/gpt2/frozen.onnx --base examples/gpt2/base.onnx --emit ir      the placed IR
  $ marillc examples/gpt2/full.onnx --no-marill --emit cost --network wan          per-op costs
  $ marillc examples/bert/full.onnx --shape sequence=16 --gelu quad
  $ marillc eval examples/gpt2/full.onnx --input examples/gpt2/input.json
  $ marillc advise examples/gpt2/base.onnx --network wan                          what to fine-tune`;

/** Each subcommand's `--help` ends with a command line that works from the repository root. */
const COMMAND_EXAMPLES: Readonly<Record<string, string>> = {
  compile: `
Examples:
  $ marillc examples/gpt2/lora-merged.onnx --base examples/gpt2/base.onnx -o out/plan.ts
  $ marillc examples/bert/lora-merged.onnx --base examples/bert/base.onnx --shape sequence=16 \\
      --private 'bert.embeddings.*' --emit cost
  $ marillc examples/gpt2/cache-frozen.onnx --base examples/gpt2/cache-base.onnx --max-context 16 \\
      -o out/gen.ts                                    a generation plan (decoder with a KV cache)`,
  eval: `
Examples:
  $ marillc eval examples/gpt2/full.onnx --input examples/gpt2/input.json --out out/logits.json
  $ marillc eval examples/llama/cache-base.onnx --prompt-ids 1,5,9 --max-new-tokens 16 --out out/tokens.json
  $ marillc eval examples/gpt2/cache-base.onnx --tokenizer examples/tokenizer/tokenizer.json \\
      --prompt "the old man and the sea" --max-new-tokens 16`,
  advise: `
Example:
  $ marillc advise examples/gpt2/base.onnx --network wan`,
  run: `
Example (three processes; compile out/plan.ts first, see marillc compile --help):
  $ marillc certs --out certs
  $ marillc run out/plan.ts --party dealer --listen 127.0.0.1:7001 --certs certs &
  $ marillc run out/plan.ts --party server --model out/plan.server.onnx --listen 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --certs certs &
  $ marillc run out/plan.ts --party client --model out/plan.client.onnx --connect 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --certs certs --input examples/gpt2/input.json --out out/result.json`,
  serve: `
Examples (compile out/plan.ts and make certificates first: marillc certs --out certs):
  $ marillc serve out/plan.ts --party dealer --listen 127.0.0.1:7001 --certs certs &
  $ marillc serve out/plan.ts --party server --model out/plan.server.onnx --listen 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --certs certs --max-sessions 32 &
  $ marillc run out/plan.ts --party client --model examples/gpt2/base.onnx --connect 127.0.0.1:7000 \\
      --dealer 127.0.0.1:7001 --certs certs --input a.json --input b.json --out outputs.json`,
  simulate: `
Example:
  $ marillc simulate out/plan.ts --server-model out/plan.server.onnx --client-model out/plan.client.onnx \\
      --input examples/gpt2/input.json --out out/result.json --report out/report.json`,
};

const TIMEOUT_S = 60;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * An option whose value `parse` checks when the command line is read: a value
 * it rejects (a MarillError) is bad usage, reported by commander with exit 2,
 * before any file is read.
 */
function checkedOption<T>(
  flags: string,
  description: string,
  parse: (text: string) => T,
  fallback?: { value: T; shown: string },
): Option {
  const option = new Option(flags, description).argParser((text: string) => {
    try {
      return parse(text);
    } catch (e) {
      if (e instanceof MarillError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  });
  return fallback ? option.default(fallback.value, fallback.shown) : option;
}

function networkOption(description: string): Option {
  return checkedOption('--network <profile>', description, parseNetwork, {
    value: NETWORKS.lan,
    shown: 'lan',
  });
}

function fracBitsOption(): Option {
  return checkedOption('--frac-bits <f>', 'fixed-point fractional bits', fracBitsFlag, {
    value: DEFAULT_FRAC_BITS,
    shown: String(DEFAULT_FRAC_BITS),
  });
}

function timeoutOption(description: string): Option {
  return checkedOption('--timeout <seconds>', description, (t) => numberFlag('--timeout', t, 0.001), {
    value: TIMEOUT_S,
    shown: String(TIMEOUT_S),
  });
}

/** `-o` names a TypeScript module: a plan is written as one (docs/plans.md). */
function planFileArg(value: string): string {
  if (!/\.m?ts$/.test(value))
    throw new InvalidArgumentError(`a plan is a TypeScript module: give a .ts or .mts file, not '${value}'`);
  return value;
}

function addTlsOptions(cmd: Command): Command {
  return cmd
    .option('--certs <dir>', "the session's certificates (from `marillc certs`): this party's and the CA")
    .option('--tls-cert <pem>', "this party's TLS certificate (with --tls-key and --tls-ca)")
    .option('--tls-key <pem>', "this party's TLS private key")
    .option('--tls-ca <pem>', 'the CA that signed every party of the session')
    .option(
      '--insecure-plaintext',
      'plain TCP: no encryption, no authentication (anyone on the network reads seeds and inputs)',
    );
}

/**
 * Combinations of `run` flags that cannot work, found before the plan is loaded
 * (bad usage, exit 2); undefined when the flags fit together.
 */
export function runUsageProblem(flags: RunFlags): string | undefined {
  if (flags.party === 'dealer')
    return flags.listen === undefined && flags.dealerDir === undefined
      ? 'the dealer needs --listen HOST:PORT (live) or --dealer-dir DIR (material made ahead)'
      : undefined;
  // Whether the party needs a dealer at all depends on the plan's setting: checked once it is read.
  if (flags.dealer !== undefined && flags.dealerDir !== undefined)
    return `the ${flags.party} takes one of --dealer HOST:PORT (a live dealer) or --dealer-dir DIR (material made ahead), not both`;
  if ((flags.listen === undefined) === (flags.connect === undefined))
    return `the ${flags.party} needs exactly one of --listen HOST:PORT or --connect HOST:PORT (where it meets the other party)`;
  if (flags.party === 'server' && flags.input !== undefined)
    return '--input is the client’s: the server has no inputs in a plan';
  if (flags.party !== 'client' && (flags.promptIds !== undefined || flags.prompt !== undefined))
    return 'the prompt (--prompt-ids, --prompt) is the client’s: the server learns its length only';
  return undefined;
}

/**
 * The generation options (eval, and run/simulate of a generation plan): the
 * prompt as ids or as text with a tokenizer, and the sampling.
 */
function addGenerateOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--prompt-ids <ids>', `generate from these token ids, e.g. 1,2,3 (${what})`)
    .option('--prompt <text>', 'generate from this text (needs --tokenizer)')
    .option('--tokenizer <file>', 'a Hugging Face tokenizer.json: text in, generated text streamed to stdout')
    .option('--max-new-tokens <n>', 'generation: stop after N new tokens')
    .option('--temperature <t>', 'generation: sample from softmax(logits / T) (default: greedy)')
    .option('--top-k <k>', 'generation: sample among the K highest logits')
    .option('--seed <s>', 'generation: seed of the sampling stream (default 0)')
    .option('--eos <id>', "generation: stop after this id (default: the tokenizer's end of sequence)");
}

/** The engine for a party's plaintext nodes (onnxruntime segments, or the reference interpreter). */
function plaintextEngineOption(): Option {
  return new Option('--plaintext-engine <engine>', "what runs a party's plaintext nodes")
    .choices(PLAINTEXT_ENGINES)
    .default(DEFAULT_PLAINTEXT_ENGINE);
}

/**
 * Combinations of `serve` flags that cannot work, found before the plan is
 * loaded (bad usage, exit 2); undefined when the flags fit together.
 */
export function serveUsageProblem(flags: ServeFlags): string | undefined {
  if (flags.party === 'dealer')
    return flags.model !== undefined || flags.dealer !== undefined || flags.dealerDir !== undefined
      ? 'the live dealer takes no --model, --dealer or --dealer-dir (write material ahead with marillc run --party dealer --dealer-dir)'
      : undefined;
  if (flags.dealer !== undefined && flags.dealerDir !== undefined)
    return 'the server takes one of --dealer HOST:PORT (a live dealer) or --dealer-dir DIR/server (material made ahead), not both';
  return undefined;
}

export function buildProgram(argv: readonly string[]): Command {
  const program = new Command('marillc')
    .description('Compile fine-tuned ONNX models into two-party (MPC) inference plans, after Marill.')
    .version(packageVersion(), '-V, --version', 'print the version of marillc')
    .option('--verbose', 'print stack traces on errors')
    // Every message commander prints starts with 'error: '; the prefix makes it
    // read like the command's own errors (`marillc: error: ...`). Subcommands
    // inherit this output configuration.
    .configureOutput({ outputError: (text, write) => write(`marillc: ${text}`) })
    .showHelpAfterError('(run marillc --help for usage)')
    .addHelpText('after', EXAMPLES);

  program
    .command('compile <model>', { isDefault: true })
    .description('compile MODEL (.onnx or .mir) into a two-party plan')
    .addOption(
      new Option(
        '-o, --output <plan.ts>',
        'write the plan module (.ts or .mts), its weight bundles and the server weight key beside it',
      ).argParser(planFileArg),
    )
    .option(
      '--shape <name=DxD>',
      'fix a dynamic input shape (input=1x16) or one dynamic dimension by name (sequence=16); repeatable',
      collect,
    )
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
    .addOption(
      checkedOption(
        '--lora-max-rank <r>',
        'largest rank a merged LoRA split may have',
        (t) => numberFlag('--lora-max-rank', t, 1, true),
        { value: DEFAULT_OPTIONS.loraMaxRank, shown: String(DEFAULT_OPTIONS.loraMaxRank) },
      ),
    )
    .addOption(
      checkedOption(
        '--lora-tolerance <t>',
        'relative error allowed in the low-rank fit',
        (t) => numberFlag('--lora-tolerance', t, 0),
        { value: DEFAULT_OPTIONS.loraTolerance, shown: String(DEFAULT_OPTIONS.loraTolerance) },
      ),
    )
    .addOption(
      new Option(
        '--setting <s>',
        'who makes the correlated randomness: 2pc-dealer (a dealer process or material files) or 2pc (the two parties, no dealer)',
      )
        .choices(SETTINGS)
        .default(DEFAULT_SETTING),
    )
    .addOption(networkOption('optimise for lan, wan, or BW,LAT (Mbit/s, ms one-way)'))
    .addOption(fracBitsOption())
    .addOption(
      new Option('--emit <stage>', 'stop after STAGE and print its result (IR stages: .mir text; see Stages)')
        .choices(STAGE_NAMES)
        .default('summary'),
    )
    .option('--dump-after <pass>', 'print the IR to stderr after PASS (or all; repeatable)', collect)
    .option('--report <file>', 'write the summary and predicted costs as JSON')
    .addOption(
      checkedOption(
        '--max-context <n>',
        'a decoder with a KV cache: the longest context (tokens) of the generation plan (default: 32, or the position table when shorter)',
        (t) => numberFlag('--max-context', t, 1, true),
      ),
    )
    .addOption(
      checkedOption(
        '--prompt-length <p>',
        'a generation plan: the prompt length its costs are shown for (default: min(8, max context / 2))',
        (t) => numberFlag('--prompt-length', t, 1, true),
      ),
    )
    .addOption(
      checkedOption(
        '--max-new-tokens <n>',
        'a generation plan: the new tokens its costs are shown for (default: up to 8, within the context)',
        (t) => numberFlag('--max-new-tokens', t, 1, true),
      ),
    )
    .addHelpText('after', `\nStages (--emit), in pipeline order:\n${stagesHelp()}`)
    .action(async (model: string, flags: CompileFlags, cmd: Command) => {
      if (!completesPipeline(flags.emit) && (flags.output !== undefined || flags.report !== undefined))
        cmd.error(
          `error: --emit ${flags.emit} stops before the plan; -o and --report need the whole pipeline`,
          {
            exitCode: 2,
          },
        );
      return (await import('./commands/compile.ts')).compileCommand(model, flags, argv);
    });

  addGenerateOptions(
    program
      .command('eval <model>')
      .description('run MODEL in plaintext (the reference interpreter): one inference, or generation')
      .option('--input <file>', 'input JSON: {"name": nested arrays} (one inference)')
      .option('--out <file>', 'write outputs JSON here instead of stdout'),
    'a KV-cache model',
  )
    .option(
      '--shape <name=DxD>',
      'fix a dynamic input shape or dimension (default: the shapes of the input JSON); repeatable',
      collect,
    )
    .action(async (model: string, flags: EvalFlags) =>
      (await import('./commands/eval.ts')).evalCommand(model, flags),
    );

  program
    .command('advise <base>')
    .description(
      'estimated MPC cost by number of fine-tuned top layers and head-merge factor, before training',
    )
    .addOption(networkOption('lan, wan, or BW,LAT (Mbit/s, ms one-way)'))
    .option('--shape <name=DxD>', 'fix a dynamic input shape or dimension (repeatable)', collect)
    .addOption(fracBitsOption())
    .option('--report <file>', 'write the table as JSON')
    .addOption(
      checkedOption(
        '--prompt-length <p>',
        'a decoder with a KV cache: the prompt of the generation costed (default 8, within the position table)',
        (t) => numberFlag('--prompt-length', t, 1, true),
      ),
    )
    .addOption(
      checkedOption(
        '--max-new-tokens <n>',
        'a decoder with a KV cache: the new tokens of the generation costed (default 8, within the position table)',
        (t) => numberFlag('--max-new-tokens', t, 1, true),
      ),
    )
    .action(async (base: string, flags: AdviseFlags) =>
      (await import('./commands/advise.ts')).adviseCommand(base, flags),
    );

  const run = addTlsOptions(
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
      .option(
        '--dealer-dir <dir>',
        'dealer material made ahead: the dealer writes DIR/server and DIR/client; each party gets only its own (DIR/client)',
      )
      .addOption(
        checkedOption(
          '--inferences <n>',
          'dealer with --dealer-dir: inferences of material to generate',
          (t) => numberFlag('--inferences', t, 1, true),
          { value: 1, shown: '1' },
        ),
      )
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
      .option('--weight-key <file>', 'server: the plan’s weight key (default: <plan>.server.key beside it)')
      .addOption(plaintextEngineOption())
      .addOption(timeoutOption('give up on a silent peer after this long')),
  );
  addGenerateOptions(run, 'the client of a generation plan');
  run.action(async (plan: string, flags: RunFlags) => {
    const problem = runUsageProblem(flags);
    if (problem !== undefined) run.error(`error: ${problem}`, { exitCode: 2, code: 'marillc.usage' });
    await (await import('./commands/run.ts')).runCommand(plan, flags);
  });

  program
    .command('certs')
    .description('make a CA and a TLS key + certificate per party, each naming its role, for `marillc run`')
    .requiredOption('--out <dir>', 'folder for ca.pem, <party>.pem and <party>-key.pem (keys mode 0600)')
    .option('--parties <list>', 'which parties', 'server,client,dealer')
    .option('--days <n>', 'how long the certificates are valid', '365')
    .addHelpText(
      'after',
      `
Give each party only its own key: the server DIR/server.pem and DIR/server-key.pem, and every party DIR/ca.pem.
Example:
  $ marillc certs --out certs && marillc run plan.ts --party dealer --listen 127.0.0.1:7001 --certs certs`,
    )
    .action(async (flags: CertsFlags) => (await import('./commands/certs.ts')).certsCommand(flags));

  const serve = addTlsOptions(
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
      .option(
        '--dealer-dir <dir>',
        "server: dealer material made ahead, the server's own folder (DIR/server)",
      )
      .addOption(
        checkedOption(
          '--max-sessions <n>',
          'sessions at once; one more client is refused with a message',
          (t) => numberFlag('--max-sessions', t, 1, true),
          { value: 16, shown: '16' },
        ),
      )
      .addOption(
        checkedOption(
          '--handshake-timeout <seconds>',
          'end a connection that does not complete its hello',
          (t) => numberFlag('--handshake-timeout', t, 0.001),
          { value: 10, shown: '10' },
        ),
      )
      .option('--weight-key <file>', 'server: the plan’s weight key (default: <plan>.server.key beside it)')
      .addOption(timeoutOption('end a session whose peer is silent this long mid-session'))
      .addOption(
        checkedOption(
          '--grace <seconds>',
          'on SIGTERM: how long running inferences may take to finish',
          (t) => numberFlag('--grace', t, 0.001),
          { value: 30, shown: '30' },
        ),
      )
      .addOption(
        checkedOption(
          '--ahead-mib <n>',
          'dealer: memory for material dealt ahead, all sessions together',
          (t) => numberFlag('--ahead-mib', t, 1),
          { value: 512, shown: '512' },
        ),
      )
      .option('--log-json', 'one JSON object per log line'),
  );
  serve.action(async (plan: string, flags: ServeFlags) => {
    const problem = serveUsageProblem(flags);
    if (problem !== undefined) serve.error(`error: ${problem}`, { exitCode: 2, code: 'marillc.usage' });
    await (await import('./commands/serve.ts')).serveCommand(plan, flags);
  });

  addGenerateOptions(
    program
      .command('simulate <plan>')
      .description(
        'run every party of a plan from one command (real sockets on loopback) and compare with plaintext',
      )
      .option('--server-model <file>', 'fine-tuned model or server bundle')
      .option('--client-model <file>', 'base model or client bundle')
      .option('--input <file>', 'client input JSON')
      .option(
        '--out <file>',
        'write outputs JSON here (a generation plan: {prompt, tokens}; default: stdout; the statistics go to stderr)',
      )
      .option('--report <file>', 'write predicted and measured costs and the error as JSON')
      .addOption(networkOption('network profile for the time estimate'))
      .option('--weight-key <file>', 'the plan’s weight key (default: <plan>.server.key beside it)')
      .addOption(plaintextEngineOption())
      .addOption(timeoutOption('give up on a silent party after this long')),
    'a generation plan',
  ).action(async (plan: string, flags: SimulateFlags) =>
    (await import('./commands/run.ts')).simulateCommand(plan, flags),
  );

  program
    .command('inspect <plan>')
    .description('what a plan makes each party give, send and learn (read as data and checked, never run)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample:\n  $ marillc inspect out/plan.ts')
    .action(async (plan: string, flags: InspectFlags) =>
      (await import('./commands/inspect.ts')).inspectCommand(plan, flags),
    );

  // A usage error names the command's usage line, and every command's help ends with an example.
  for (const cmd of program.commands) {
    cmd.showHelpAfterError(
      `usage: marillc ${cmd.name()} ${cmd.usage()}\n(run marillc ${cmd.name()} --help for the options and an example)`,
    );
    const example = COMMAND_EXAMPLES[cmd.name()];
    if (example !== undefined) cmd.addHelpText('after', example);
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram(argv);
  program.exitOverride();
  program.commands.forEach((c) => c.exitOverride());
  const verbose = argv.includes('--verbose');
  if (argv.length === 0) {
    // A bare `marillc` is bad usage; the whole help (commands and examples) is the answer.
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version requests end here with exit code 0; everything else is bad usage.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`marillc: error: ${e.message}\n`);
      return 2;
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
