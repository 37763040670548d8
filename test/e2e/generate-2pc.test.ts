/**
 * Two-party generation with a KV cache on the example cache models (gpt2 and llama, frozen and
 * lora-merged), compiled by `marillc` at a small --max-context, against the plaintext
 * interpreter generating from the exported model (compiler/generate/plaintext.ts, itself tested
 * against onnxruntime in generate-plaintext.test.ts):
 *  - in process, every variant: the greedy tokens of 16 new tokens are the interpreter's, every
 *    step's logits are within TOL of its, every step's measured bytes and rounds equal the cost
 *    model's prediction for that step's plan, the secret cache is held as shares and the client's
 *    cache only by the client;
 *  - as OS processes over mutual TLS (`marillc run` dealer, server, client): the same tokens,
 *    `--out {prompt, tokens}` and `--report steps[]` equal to the prediction step by step;
 *  - `marillc serve`: a client killed mid-generation ends its session with an error line, and
 *    the server serves the next client and stops cleanly on SIGTERM.
 *
 * Why equal tokens is a fair test: every step's logits agree with the interpreter's within TOL
 * (fixed point with 16 fractional bits; measured under 1.1e-3 on these models), and at every
 * step the interpreter's top-1 logit leads its top-2 by at least 2 TOL (asserted below, for the
 * prompt chosen for clear margins), so an error within TOL cannot swap them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheModel } from '../../compiler/generate/cache-model.ts';
import { generatePlaintext } from '../../compiler/generate/plaintext.ts';
import { makeCertificates, writeCertificates } from '../../compiler/party/certs.ts';
import { loadAnyPlanModule } from '../../compiler/party/plan-module.ts';
import { loadGenerationWeights, stepMismatches, stepReports } from '../../compiler/party/run-generation.ts';
import { serverGenerationPlan } from '../../compiler/party/weight-key.ts';
import { NETWORKS } from '../../compiler/backend/network.ts';
import { examplePath, loadExamplesManifest } from '../../examples/manifest.ts';
import { maxAbsDiff } from '../../ir/tensor.ts';
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import { generateTokens } from '../../runtime/generate/loop.ts';
import { topKIds } from '../../runtime/generate/sampling.ts';
import { SimulatedGeneration } from '../../runtime/generate/simulate.ts';
import { ROLES } from '../../runtime/net/identity.ts';
import type { RunningMarillc, SpawnedResult } from '../cli-harness.ts';
import { killAllSpawned, scratchDir, spawnMarillc } from '../cli-harness.ts';
import { PROCESS_TIMEOUT_MS, listeningPort } from './pipeline.ts';

const PROMPT = [40, 16, 41];
const NEW_TOKENS = 16;
const MAX_CONTEXT = PROMPT.length + NEW_TOKENS - 1;
const TOL = 1e-2;
const TEST_TIMEOUT_MS = 400_000;

const manifest = loadExamplesManifest();
const CASES = ['gpt2', 'llama'].flatMap((family) =>
  ['cache-frozen', 'cache-lora-merged'].map((name) => {
    const cache = manifest.cache.find((c) => c.family === family)!;
    const variant = cache.variants.find((v) => v.file.endsWith(`${name}.onnx`))!;
    const base = cache.variants.find((v) => v.file.endsWith('cache-base.onnx'))!;
    return { key: `${family}-${name}`, model: examplePath(variant.file), base: examplePath(base.file) };
  }),
);

interface Compiled {
  readonly plan: string;
  readonly serverBundle: string;
  readonly clientBundle: string;
}

let root = '';
let certs = '';
const compiled = new Map<string, Compiled>();
/** The interpreter's generation per case: tokens and each step's logits. */
const oracle = new Map<string, { tokens: number[]; logits: Float32Array[] }>();

function succeeded(r: SpawnedResult, what: string): void {
  expect(r.timedOut, `${what} hung; stderr:\n${r.stderr}`).toBe(false);
  expect(r.code, `${what} failed; stderr:\n${r.stderr}`).toBe(0);
}

beforeAll(async () => {
  root = scratchDir('marillc-e2e-gen-');
  certs = join(root, 'certs');
  writeCertificates(certs, await makeCertificates(ROLES, 1));
  // The four compiles run side by side (each a process).
  await Promise.all(
    CASES.map(async (c) => {
      const plan = join(root, c.key, 'plan.ts');
      const args = [c.model, '--base', c.base, '--max-context', String(MAX_CONTEXT), '-o', plan];
      const r = await spawnMarillc(args, { timeoutMs: PROCESS_TIMEOUT_MS * 2 }).done;
      succeeded(r, `compile of ${c.key}`);
      compiled.set(c.key, {
        plan,
        serverBundle: join(root, c.key, 'plan.server.onnx'),
        clientBundle: join(root, c.key, 'plan.client.onnx'),
      });
      const logits: Float32Array[] = [];
      const tokens = await generatePlaintext(
        CacheModel.open(c.model),
        PROMPT,
        { maxNewTokens: NEW_TOKENS },
        { onLogits: (l) => logits.push(l) },
      );
      oracle.set(c.key, { tokens, logits });
    }),
  );
}, TEST_TIMEOUT_MS);

afterAll(() => killAllSpawned());

function loadGeneration(key: string): GenerationPlan {
  const loaded = loadAnyPlanModule(compiled.get(key)!.plan);
  if (loaded.kind !== 'generation') throw new Error(`${key}: not a generation plan`);
  return loaded.plan;
}

describe.each(CASES.map((c) => [c.key] as const))('%s: two-party generation in process', (key) => {
  it(
    'greedy tokens = the interpreter’s; logits within TOL; costs as predicted per step; the cache stays put',
    async () => {
      const want = oracle.get(key)!;
      const margins = want.logits.map((l) => {
        const [a, b] = topKIds(l, 2);
        return l[a!]! - l[b!]!;
      });
      expect(Math.min(...margins), 'top-1/top-2 margin of the reference').toBeGreaterThanOrEqual(2 * TOL);
      const c = compiled.get(key)!;
      const g = loadGeneration(key);
      const server = serverGenerationPlan(g, c.plan, undefined);
      const weights = {
        server: loadGenerationWeights(server, 'server', c.serverBundle, c.plan),
        client: loadGenerationWeights(g, 'client', c.clientBundle, c.plan),
      };
      const sim = await SimulatedGeneration.open(server, weights, {
        prompt: PROMPT.length,
        steps: NEW_TOKENS,
      });
      const logits: Float32Array[] = [];
      try {
        const tokens = await generateTokens(
          async (ids) => {
            const l = await sim.step(ids);
            logits.push(Float32Array.from(l));
            // Where the cache is: shares of the secret cache at both, the client's cache at the client only.
            for (const pair of g.state) {
              const atServer = sim.held('server').get(pair.input);
              const atClient = sim.held('client').get(pair.input);
              if (pair.visibility === 'secret') {
                expect(atServer?.kind, pair.input).toBe('share');
                expect(atClient?.kind, pair.input).toBe('share');
              } else {
                expect(atServer, pair.input).toBeUndefined();
                expect(atClient?.kind, pair.input).toBe('plain');
              }
            }
            return l;
          },
          PROMPT,
          { maxNewTokens: NEW_TOKENS },
        );
        expect(tokens).toEqual(want.tokens);
        logits.forEach((l, k) =>
          expect(maxAbsDiff(l, want.logits[k]!), `step ${k}`).toBeLessThanOrEqual(TOL),
        );
        const { steps } = sim.report();
        expect(steps).toHaveLength(NEW_TOKENS);
        expect(stepMismatches(stepReports(g, PROMPT.length, steps, NETWORKS.lan))).toEqual([]);
        // Both kinds of state where the plan puts them (the frozen prefix's cache at the client).
        expect(g.state.some((p) => p.visibility === 'secret')).toBe(true);
      } finally {
        await sim.end();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

function runArgs(plan: string, party: string): string[] {
  return ['run', plan, '--party', party, '--timeout', '60', '--certs', certs];
}

describe('marillc run: generation as three OS processes over TLS', () => {
  it(
    'gpt2 cache-lora-merged: --out {prompt, tokens} = the interpreter’s; --report steps[] as predicted',
    async () => {
      const key = 'gpt2-cache-lora-merged';
      const c = compiled.get(key)!;
      const dealer = spawnMarillc([...runArgs(c.plan, 'dealer'), '--listen', '127.0.0.1:0'], {
        timeoutMs: PROCESS_TIMEOUT_MS,
      });
      const dport = await listeningPort(dealer);
      const server = spawnMarillc(
        [
          ...runArgs(c.plan, 'server'),
          '--model',
          c.serverBundle,
          '--listen',
          '127.0.0.1:0',
          '--dealer',
          `127.0.0.1:${dport}`,
        ],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      );
      const sport = await listeningPort(server);
      const out = join(root, 'run-out.json');
      const report = join(root, 'run-report.json');
      const client = spawnMarillc(
        [
          ...runArgs(c.plan, 'client'),
          '--model',
          c.clientBundle,
          '--connect',
          `127.0.0.1:${sport}`,
          '--dealer',
          `127.0.0.1:${dport}`,
          '--prompt-ids',
          PROMPT.join(','),
          '--max-new-tokens',
          String(NEW_TOKENS),
          '--out',
          out,
          '--report',
          report,
        ],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      );
      const [d, s, cl] = await Promise.all([dealer.done, server.done, client.done]);
      succeeded(cl, 'client');
      succeeded(s, 'server');
      succeeded(d, 'dealer');
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
        prompt: PROMPT,
        tokens: oracle.get(key)!.tokens,
      });
      const r = JSON.parse(readFileSync(report, 'utf8')) as {
        setup: { bytes: number };
        steps: {
          position: number;
          online_bytes: number;
          offline_bytes: number;
          rounds: number;
          preprocess_bytes: number;
          preprocess_rounds: number;
          seconds: number;
        }[];
      };
      expect(r.steps.map((x) => x.position)).toEqual(
        Array.from({ length: NEW_TOKENS }, (_, k) => (k === 0 ? 0 : PROMPT.length + k - 1)),
      );
      const g = loadGeneration(key);
      const predicted = stepReports(
        g,
        PROMPT.length,
        r.steps.map((x) => ({ ...x, sequence: x.position === 0 ? PROMPT.length : 1 })),
        NETWORKS.lan,
      );
      expect(stepMismatches(predicted)).toEqual([]);
      expect(r.setup.bytes).toBeGreaterThan(0);
      expect(d.stderr).toMatch(/dealer: served 16 step\(s\)/);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('marillc serve: generation sessions', () => {
  it(
    'a client killed mid-generation ends its session with an error line; the server serves the next',
    async () => {
      const key = 'llama-cache-frozen';
      const c = compiled.get(key)!;
      const dealer = spawnMarillc(
        ['serve', c.plan, '--party', 'dealer', '--listen', '127.0.0.1:0', '--certs', certs],
        { timeoutMs: TEST_TIMEOUT_MS },
      );
      const dport = await listeningPort(dealer);
      const server = spawnMarillc(
        [
          'serve',
          c.plan,
          '--party',
          'server',
          '--model',
          c.serverBundle,
          '--listen',
          '127.0.0.1:0',
          '--dealer',
          `127.0.0.1:${dport}`,
          '--certs',
          certs,
        ],
        { timeoutMs: TEST_TIMEOUT_MS },
      );
      const sport = await listeningPort(server);
      const client = (newTokens: number, out: string): RunningMarillc =>
        spawnMarillc(
          [
            ...runArgs(c.plan, 'client'),
            '--model',
            c.clientBundle,
            '--connect',
            `127.0.0.1:${sport}`,
            '--dealer',
            `127.0.0.1:${dport}`,
            '--prompt-ids',
            PROMPT.join(','),
            '--max-new-tokens',
            String(newTokens),
            '--out',
            out,
          ],
          { timeoutMs: PROCESS_TIMEOUT_MS },
        );
      const doomed = client(NEW_TOKENS, join(root, 'doomed.json'));
      await doomed.waitForStderr(/session \d+ on the server/, PROCESS_TIMEOUT_MS);
      // Mid-generation: after the welcome, while its steps run.
      await new Promise((r) => setTimeout(r, 1500));
      doomed.kill();
      const line = await server.waitForStderr(/session 1 from [^\n]*ended: [^\n]*/, PROCESS_TIMEOUT_MS);
      expect(line[0]).toMatch(/client/);
      const next = client(4, join(root, 'next.json'));
      succeeded(await next.done, 'the next client');
      expect(JSON.parse(readFileSync(join(root, 'next.json'), 'utf8'))).toEqual({
        prompt: PROMPT,
        tokens: oracle.get(key)!.tokens.slice(0, 4),
      });
      server.child.kill('SIGTERM');
      dealer.child.kill('SIGTERM');
      const [s, d] = await Promise.all([server.done, dealer.done]);
      succeeded(s, 'server');
      succeeded(d, 'dealer');
      expect(s.stderr).toMatch(/session 2 from [^\n]*: 4 inferences/);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('marillc simulate: text in, text out', () => {
  it(
    'gpt2 cache-frozen with --tokenizer --prompt streams the text `marillc eval` streams; --out and --report',
    async () => {
      const key = 'gpt2-cache-frozen';
      const c = compiled.get(key)!;
      const model = CASES.find((x) => x.key === key)!.model;
      const text = [
        '--tokenizer',
        examplePath('tokenizer/tokenizer.json'),
        '--prompt',
        'the wind had turned',
      ];
      const evalOut = join(root, 'text-eval.json');
      const reference = await spawnMarillc(
        ['eval', model, ...text, '--max-new-tokens', '4', '--out', evalOut],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      ).done;
      succeeded(reference, 'eval');
      const out = join(root, 'text-sim.json');
      const report = join(root, 'text-sim-report.json');
      const sim = await spawnMarillc(
        [
          'simulate',
          c.plan,
          '--server-model',
          c.serverBundle,
          '--client-model',
          c.clientBundle,
          ...text,
          '--max-new-tokens',
          '4',
          '--out',
          out,
          '--report',
          report,
        ],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      ).done;
      succeeded(sim, 'simulate');
      expect(sim.stdout.length).toBeGreaterThan(1);
      expect(sim.stdout).toBe(reference.stdout);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(JSON.parse(readFileSync(evalOut, 'utf8')));
      const r = JSON.parse(readFileSync(report, 'utf8')) as {
        steps: { max_abs_error: number }[];
        cost_matches_measured: boolean;
      };
      expect(r.cost_matches_measured).toBe(true);
      expect(r.steps).toHaveLength(4);
      r.steps.forEach((s) => expect(s.max_abs_error).toBeLessThanOrEqual(TOL));
      expect(sim.stderr).toMatch(/predicted bytes and rounds equal the measured ones, step by step/);
    },
    TEST_TIMEOUT_MS,
  );

  it('a prompt given to the server is bad usage (exit 2): the prompt is the client’s', async () => {
    const c = compiled.get('gpt2-cache-frozen')!;
    const r = await spawnMarillc(
      [
        ...runArgs(c.plan, 'server'),
        '--listen',
        '127.0.0.1:0',
        '--dealer',
        '127.0.0.1:9',
        '--prompt-ids',
        '1,2',
      ],
      { timeoutMs: PROCESS_TIMEOUT_MS },
    ).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the prompt \(--prompt-ids, --prompt\) is the client’s/);
  });
});
