/**
 * The user's pipeline, as separate OS processes: `marillc MODEL -o plan.ts`,
 * then the dealer, the server and the client of `marillc run` over TCP on
 * loopback. Listening parties bind port 0 and the test reads the port each
 * prints ("<party>: listening on HOST:PORT"), so concurrent runs never race
 * for a port. Every process has a hard timeout; a failure names the process
 * and carries its stderr. Every link is mutual TLS: the plans compiled under
 * one folder share one session's certificates (`marillc certs`), made once
 * beside them; each party is given only its own dealer material folder.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeCertificates, writeCertificates } from '../../compiler/party/certs.ts';
import { ROLES } from '../../runtime/net/identity.ts';
import type { RunningMarillc, SpawnedResult } from '../cli-harness.ts';
import { spawnMarillc } from '../cli-harness.ts';
import type { ExampleFamily, ExampleVariant } from '../../examples/manifest.ts';
import { examplePath, findVariant, shapeFlags } from '../../examples/manifest.ts';

/** Hard limit on any one process (a loaded 2-core machine is slow; none should come near it). */
export const PROCESS_TIMEOUT_MS = 150_000;
/** What the parties pass as --timeout: a silent peer ends a run well before the hard limit. */
export const PEER_TIMEOUT_S = 60;

export interface CompiledPlan {
  readonly dir: string;
  readonly plan: string;
  readonly report: string;
  /** The weight bundles beside the plan (the client one exists only when the plan has public weights). */
  readonly serverBundle: string;
  readonly clientBundle: string;
  /** The session's certificate folder (`--certs`), shared by the plans under the same parent folder. */
  readonly certs: string;
}

const certificateFolders = new Map<string, Promise<string>>();

/** A certificate folder for every plan under `parent`, made on first use. */
function sessionCertificates(parent: string): Promise<string> {
  let made = certificateFolders.get(parent);
  if (!made) {
    // A fresh folder: `parent` may be shared with other test files' processes (e.g. the temp dir).
    made = makeCertificates(ROLES, 1).then((c) => {
      const dir = mkdtempSync(join(parent, 'certs-'));
      writeCertificates(dir, c);
      return dir;
    });
    certificateFolders.set(parent, made);
  }
  return made;
}

export interface CompileRequest {
  readonly family: ExampleFamily;
  readonly variant: ExampleVariant;
  /** `--no-marill`: the standard baseline (every weight private). */
  readonly standard: boolean;
  readonly dir: string;
  readonly extraFlags?: readonly string[];
}

export function compileArgs(r: CompileRequest, plan: string, report: string): string[] {
  const base = examplePath(findVariant(r.family, 'base').file);
  return [
    examplePath(r.variant.file),
    '--base',
    base,
    ...shapeFlags(r.family).flatMap((s) => ['--shape', s]),
    ...(r.standard ? ['--no-marill'] : []),
    ...(r.extraFlags ?? []),
    '-o',
    plan,
    '--report',
    report,
  ];
}

/** Runs the compiler as a process; fails with its stderr unless it succeeds. */
export async function compilePlan(r: CompileRequest, stem = 'plan'): Promise<CompiledPlan> {
  mkdirSync(r.dir, { recursive: true });
  const plan = join(r.dir, `${stem}.ts`);
  const report = join(r.dir, `${stem}.compile.json`);
  const res = await spawnMarillc(compileArgs(r, plan, report), { timeoutMs: PROCESS_TIMEOUT_MS }).done;
  if (res.code !== 0) throw new Error(`compile of ${r.variant.file} failed (${res.code}):\n${res.stderr}`);
  return {
    dir: r.dir,
    plan,
    report,
    serverBundle: join(r.dir, `${stem}.server.onnx`),
    clientBundle: join(r.dir, `${stem}.client.onnx`),
    certs: await sessionCertificates(dirname(r.dir)),
  };
}

/** A live dealer, material written ahead to folders, or none (a plan compiled with --setting 2pc). */
export type DealerMode = 'live' | 'dir' | 'none';

export interface PartyRunRequest {
  readonly plan: CompiledPlan;
  readonly dealer: DealerMode;
  /** --model for the server (the fine-tuned ONNX or the server bundle). */
  readonly serverModel: string;
  /** --model for the client (base model or client bundle), or none (a plan with no public weight). */
  readonly clientModel: string | undefined;
  readonly input: string;
}

export interface PartyRunResult {
  /** Absent without a dealer. */
  readonly dealer: SpawnedResult | undefined;
  readonly server: SpawnedResult;
  readonly client: SpawnedResult;
  readonly serverReport: string;
  readonly clientReport: string;
  readonly clientOut: string;
  /** From the first process started to the last one ending. */
  readonly wallSeconds: number;
}

const LISTENING = /listening on [^\s]*:(\d+)/;

export async function listeningPort(p: RunningMarillc): Promise<number> {
  const m = await p.waitForStderr(LISTENING, PROCESS_TIMEOUT_MS);
  return Number(m[1]);
}

/** Common flags of a party run (its links over TLS with the session's certificates). */
function runArgs(plan: CompiledPlan, party: string): string[] {
  return ['run', plan.plan, '--party', party, '--timeout', String(PEER_TIMEOUT_S), '--certs', plan.certs];
}

export function dealerArgs(plan: CompiledPlan, mode: Exclude<DealerMode, 'none'>): string[] {
  return mode === 'live'
    ? [...runArgs(plan, 'dealer'), '--listen', '127.0.0.1:0']
    : [...runArgs(plan, 'dealer'), '--dealer-dir', join(plan.dir, 'dealer')];
}

/** The --dealer / --dealer-dir flags a party passes (material made ahead: its own folder only). */
export function dealerFlags(
  plan: CompiledPlan,
  mode: DealerMode,
  port: number,
  party: 'server' | 'client',
): string[] {
  if (mode === 'none') return [];
  return mode === 'live'
    ? ['--dealer', `127.0.0.1:${port}`]
    : ['--dealer-dir', join(plan.dir, 'dealer', party)];
}

function failure(what: string, r: SpawnedResult): Error {
  const how = r.timedOut ? 'was killed by its hard timeout' : `exited with ${r.signal ?? r.code}`;
  return new Error(`${what} ${how}; stderr:\n${r.stderr}`);
}

/**
 * Dealer (live on a port, or material written ahead to files, or none), server
 * and client as processes; resolves when all have exited successfully.
 */
export async function runThreeParties(r: PartyRunRequest): Promise<PartyRunResult> {
  const t0 = performance.now();
  const { plan } = r;
  const serverReport = join(plan.dir, 'server.json');
  const clientReport = join(plan.dir, 'client.json');
  const clientOut = join(plan.dir, 'out.json');
  const started: RunningMarillc[] = [];
  try {
    const dealer =
      r.dealer === 'none'
        ? undefined
        : spawnMarillc(dealerArgs(plan, r.dealer), { timeoutMs: PROCESS_TIMEOUT_MS });
    if (dealer) started.push(dealer);
    let dealerPort = 0;
    if (dealer && r.dealer === 'live') dealerPort = await listeningPort(dealer);
    else if (dealer) {
      const d = await dealer.done;
      if (d.code !== 0) throw failure('the dealer (--dealer-dir)', d);
    }
    const server = spawnMarillc(
      [
        ...runArgs(plan, 'server'),
        '--model',
        r.serverModel,
        '--listen',
        '127.0.0.1:0',
        ...dealerFlags(plan, r.dealer, dealerPort, 'server'),
        '--report',
        serverReport,
      ],
      { timeoutMs: PROCESS_TIMEOUT_MS },
    );
    started.push(server);
    const serverPort = await listeningPort(server);
    const client = spawnMarillc(
      [
        ...runArgs(plan, 'client'),
        ...(r.clientModel !== undefined ? ['--model', r.clientModel] : []),
        '--connect',
        `127.0.0.1:${serverPort}`,
        ...dealerFlags(plan, r.dealer, dealerPort, 'client'),
        '--input',
        r.input,
        '--out',
        clientOut,
        '--report',
        clientReport,
      ],
      { timeoutMs: PROCESS_TIMEOUT_MS },
    );
    started.push(client);
    const [d, s, c] = await Promise.all([dealer?.done, server.done, client.done]);
    for (const [what, res] of [
      ['the dealer', d],
      ['the server', s],
      ['the client', c],
    ] as const)
      if (res && res.code !== 0) throw failure(what, res);
    return {
      dealer: d,
      server: s,
      client: c,
      serverReport,
      clientReport,
      clientOut,
      wallSeconds: (performance.now() - t0) / 1000,
    };
  } finally {
    // On any failure, nothing is left running (the peers would otherwise wait for their timeout).
    for (const p of started) p.kill();
  }
}
