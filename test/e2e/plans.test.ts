/**
 * Plans as data, with real processes: a plan file edited after compilation
 * (hash removed, reveal retargeted to the server, a line of code added, or
 * the information flow broken with the hash recomputed) is refused by every
 * party before it opens any connection, and no code from it runs (a line
 * that, run as a module, writes a marker file leaves none); a plan copied
 * with its bundles to a fresh folder runs there; `marillc inspect` names the
 * revealed outputs with their shapes (from the examples manifest, not from
 * the compiler).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlanSpec } from '../../compiler/party/plan-module.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import type { PlanSpec } from '../../runtime/plan.ts';
import { specHash } from '../../runtime/plan.ts';
import type { SpawnedResult } from '../cli-harness.ts';
import { REPO, killAllSpawned, scratchDir, spawnMarillc } from '../cli-harness.ts';
import type { CompiledPlan } from './pipeline.ts';
import { PROCESS_TIMEOUT_MS, compilePlan } from './pipeline.ts';
import { onnxWeights } from './weights.ts';

const TEST_TIMEOUT_MS = 400_000;
/** Hard limit on a process: generous, a shared 2-core machine starts a marillc process slowly. */
const PARTY_TIMEOUT_MS = PROCESS_TIMEOUT_MS;

const manifest = loadExamplesManifest();
const gpt2 = manifest.families.find((f) => f.name === 'gpt2')!;
const base = examplePath(findVariant(gpt2, 'base').file);
const input = examplePath(gpt2.inputFile);

let root = '';
let lora: CompiledPlan;
let source = '';

beforeAll(async () => {
  root = scratchDir('marillc-e2e-plans-');
  lora = await compilePlan({
    family: gpt2,
    variant: findVariant(gpt2, 'lora-merged'),
    standard: false,
    dir: join(root, 'lora'),
  });
  source = readFileSync(lora.plan, 'utf8');
}, TEST_TIMEOUT_MS);

afterAll(() => {
  killAllSpawned();
  rmSync(root, { recursive: true, force: true });
});

/** A loopback listener that counts the connections it gets (a party that must never call). */
async function tap(): Promise<{ port: number; connections: () => number; close: () => void }> {
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () => server.close(),
  };
}

function expectRefused(r: SpawnedResult, pattern: RegExp): void {
  expect(r.timedOut, r.stderr).toBe(false);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('marillc: error: '));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(r.code, r.stderr).toBe(1);
  // It never listened either.
  expect(r.stderr).not.toMatch(/listening on/);
}

/** Runs dealer, server and client on an edited plan; none may connect anywhere or listen. */
async function expectAllPartiesRefuse(plan: string, pattern: RegExp): Promise<void> {
  const [peer, dealer] = [await tap(), await tap()];
  try {
    const run = (who: string, flags: string[]) =>
      spawnMarillc(['run', plan, '--party', who, '--timeout', '4', '--certs', lora.certs, ...flags], {
        timeoutMs: PARTY_TIMEOUT_MS,
      }).done;
    const results = await Promise.all([
      run('client', [
        '--model',
        base,
        '--connect',
        `127.0.0.1:${peer.port}`,
        '--dealer',
        `127.0.0.1:${dealer.port}`,
        '--input',
        input,
      ]),
      run('server', [
        '--model',
        lora.serverBundle,
        '--listen',
        '127.0.0.1:0',
        '--dealer',
        `127.0.0.1:${dealer.port}`,
      ]),
      run('dealer', ['--listen', '127.0.0.1:0']),
    ]);
    for (const r of results) expectRefused(r, pattern);
    expect(peer.connections()).toBe(0);
    expect(dealer.connections()).toBe(0);
  } finally {
    peer.close();
    dealer.close();
  }
}

function writeEdited(name: string, text: string): string {
  expect(text).not.toBe(source);
  const dir = join(root, 'edited');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The plan with its spec changed and its hash recomputed, as a forger would. */
function rehashed(edit: (spec: PlanSpec) => PlanSpec): string {
  const spec = edit(readPlanSpec(source, lora.plan) as PlanSpec);
  const hash = specHash(spec);
  const text = source.replace(/"hash": "[0-9a-f]{64}"/, `"hash": "${hash}"`);
  // The spec literal replaced whole (any JSON literal is a valid spec).
  const start = text.indexOf('const spec: PlanSpec = ');
  const end = text.indexOf('export const plan');
  return `${text.slice(0, start)}const spec: PlanSpec = ${JSON.stringify({ ...spec, hash })};\n${text.slice(end)}`;
}

// One edit at a time (three processes each): many marillc processes at once only slow each other down.
describe('an edited plan is refused by every party before any connection', () => {
  it(
    'the hash removed',
    async () => {
      const plan = writeEdited(
        'no-hash.ts',
        source.replace(/\n\s*\/\/[^\n]*\n\s*"hash": "[0-9a-f]{64}",/, ''),
      );
      await expectAllPartiesRefuse(plan, /no-hash\.ts: the plan states no hash/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the reveal retargeted to the server',
    async () => {
      const plan = writeEdited('to-server.ts', source.replace('"to": "client"', '"to": "server"'));
      await expectAllPartiesRefuse(
        plan,
        /to-server\.ts: plan '[^']*' states hash [0-9a-f]{12}… but its content/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the reveal retargeted to the server and the hash recomputed: the flow check names the op',
    async () => {
      const spec = readPlanSpec(source, lora.plan) as PlanSpec;
      const reveal = spec.nodes.find((n) => n.op === 'reveal')!;
      const plan = writeEdited(
        'to-server-rehashed.ts',
        rehashed((s) => ({
          ...s,
          values: s.values.map((v) => (v.id === reveal.outputs[0] ? { ...v, visibility: 'server' } : v)),
          nodes: s.nodes.map((n) =>
            n.outputs[0] === reveal.outputs[0] ? { ...n, attrs: { to: 'server' } } : n,
          ),
        })),
      );
      expect(readFileSync(plan, 'utf8')).toContain('"to":"server"');
      await expectAllPartiesRefuse(
        plan,
        new RegExp(
          `to-server-rehashed\\.ts: %${reveal.outputs[0]} = reveal: information flow: reveal to the server is not allowed`,
        ),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a line of code added: refused, and the line never runs (it does when the module is run)',
    async () => {
      const marker = join(root, 'marker.txt');
      const line = `(await import('node:fs')).writeFileSync(${JSON.stringify(marker)}, 'ran');`;
      const plan = writeEdited(
        'with-code.ts',
        source.replace("import type { Plan, PlanSpec } from 'marillc/plan';", (m) => `${m}\n${line}`),
      );
      // Control: run as a module (where marillc is installed), the line writes the marker.
      const project = join(root, 'project');
      mkdirSync(join(project, 'node_modules'), { recursive: true });
      symlinkSync(REPO, join(project, 'node_modules', 'marillc'), 'dir');
      writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
      copyFileSync(plan, join(project, 'with-code.ts'));
      // The refusal names the added line.
      const codeLine = readFileSync(plan, 'utf8').split('\n').indexOf(line) + 1;
      expect(codeLine).toBeGreaterThan(0);
      const tsx = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
      const ran = spawnSync(process.execPath, ['--import', tsx, join(project, 'with-code.ts')], {
        cwd: project,
        encoding: 'utf8',
        timeout: PARTY_TIMEOUT_MS,
      });
      expect(ran.status, ran.stderr).toBe(0);
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);

      await expectAllPartiesRefuse(
        plan,
        new RegExp(`with-code\\.ts:${codeLine}:\\d+: .*a plan is read as data`),
      );
      const inspected = spawnMarillc(['inspect', plan], { timeoutMs: PARTY_TIMEOUT_MS });
      expect((await inspected.done).code).toBe(1);
      expect(existsSync(marker)).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a plan copied to a fresh folder', () => {
  it(
    'runs there with `marillc simulate` (relative paths, that folder as the working directory)',
    () => {
      const dir = scratchDir('marillc-copied-plan-');
      try {
        for (const f of ['plan.ts', 'plan.server.onnx', 'plan.client.onnx', 'plan.server.key'])
          copyFileSync(join(lora.dir, f), join(dir, f));
        copyFileSync(input, join(dir, 'input.json'));
        const args = ['simulate', 'plan.ts', '--server-model', 'plan.server.onnx'];
        args.push('--client-model', 'plan.client.onnx', '--input', 'input.json', '--out', 'out.json');
        const r = spawnSync(process.execPath, [join(REPO, 'bin/marillc.js'), ...args], {
          cwd: dir,
          encoding: 'utf8',
          timeout: PARTY_TIMEOUT_MS * 2,
        });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/max abs error against the plaintext interpreter/);
        const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as Record<string, unknown>;
        expect(Object.keys(out)).toEqual(gpt2.outputs.map((o) => o.name));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('marillc inspect', () => {
  it(
    'names the revealed outputs with their shapes, the client inputs, and no reveal to the server',
    async () => {
      const r = await spawnMarillc(['inspect', lora.plan], { timeoutMs: PARTY_TIMEOUT_MS }).done;
      expect(r.code, r.stderr).toBe(0);
      for (const o of gpt2.outputs) {
        const type = `f32[${o.shape.join(',')}]`;
        expect(r.stdout).toMatch(
          new RegExp(`^  ${o.name}: ${type.replace(/[[\]]/g, '\\$&')}, revealed by %\\d+ = reveal`, 'm'),
        );
      }
      for (const i of gpt2.inputs) expect(r.stdout).toContain(`  ${i.name}: i64[${i.shape.join(',')}]`);
      expect(r.stdout).toContain('The server learns:\n  no value');
      // Every weight of the client bundle is listed as one both parties load.
      const publics = [...onnxWeights(lora.clientBundle).keys()];
      expect(publics.length).toBeGreaterThan(0);
      expect(r.stdout).toContain(`both parties load ${publics.length} public weight(s)`);
      for (const name of publics) expect(r.stdout).toContain(`    ${name}: `);
    },
    TEST_TIMEOUT_MS,
  );
});
