/**
 * What the compiler writes next to a plan: the client bundle holds every
 * public weight the plan needs and not one byte run of a private weight
 * (scanned in the bundle file itself); neither it nor plan.ts holds an
 * unkeyed SHA-256 of a private weight (computed here, independently of the
 * compiler's hashing); and the generated plan.ts, copied to a folder where
 * marillc is installed, type-checks under the repository's compiler options.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringAttr } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorHash } from '../../ir/tensor.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import { loadPlanModule } from '../../compiler/party/plan-module.ts';
import { readWeightKey, weightKeyPath } from '../../compiler/party/weight-key.ts';
import type { Plan } from '../../runtime/plan.ts';
import { keyedWeightHash } from '../../runtime/plan.ts';
import { REPO, killAllSpawned, scratchDir } from '../cli-harness.ts';
import { concurrencyLimit } from './limit.ts';
import type { CompiledPlan } from './pipeline.ts';
import { compilePlan } from './pipeline.ts';
import { readCompileReport } from './reports.ts';
import { onnxWeights, rawBytes, scanWindow } from './weights.ts';

const TEST_TIMEOUT_MS = 180_000;
const STYLES = ['lora-merged', 'frozen'] as const;
const manifest = loadExamplesManifest();
const CASES = manifest.families.flatMap((family) =>
  STYLES.map((style) => ({ key: `${family.name}/${style}`, family, variant: findVariant(family, style) })),
);

let root = '';
const compiled = new Map<string, Promise<CompiledPlan>>();

beforeAll(() => {
  root = scratchDir('marillc-e2e-bundle-');
  const limit = concurrencyLimit(2);
  for (const c of CASES) {
    const dir = join(root, c.key.replace('/', '-'));
    const p = limit(() => compilePlan({ family: c.family, variant: c.variant, standard: false, dir }));
    p.catch(() => {}); // reported by the case's own test
    compiled.set(c.key, p);
  }
});

afterAll(() => {
  killAllSpawned();
  rmSync(root, { recursive: true, force: true });
});

/** The plan's weights of one visibility: name -> content hash. */
function planWeights(plan: Plan, visibility: 'public' | 'server'): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of plan.graph.nodes) {
    if (n.op !== 'weight' || plan.graph.values.get(n.outputs[0]!)?.visibility !== visibility) continue;
    out.set(stringAttr(n.attrs, 'name'), stringAttr(n.attrs, 'hash'));
  }
  return out;
}

interface PrivateTensors {
  /** The fine-tuned model's initializers the compiler kept private (by name in that file). */
  readonly inModel: Map<string, Tensor>;
  /** The weights the plan gives the server only, including those it derived (from the server bundle). */
  readonly inPlan: Map<string, Tensor>;
}

function privateTensors(c: (typeof CASES)[number], p: CompiledPlan, plan: Plan): PrivateTensors {
  const inModel = new Map<string, Tensor>();
  const fineTuned = onnxWeights(examplePath(c.variant.file));
  for (const w of readCompileReport(p.report).weights) {
    const t = fineTuned.get(w.name);
    if (!w.public && t) inModel.set(w.name, t);
  }
  const inPlan = new Map<string, Tensor>();
  const serverBundle = onnxWeights(p.serverBundle);
  const key = readWeightKey(weightKeyPath(p.plan), plan);
  for (const [name, hash] of planWeights(plan, 'server')) {
    const t = serverBundle.get(name);
    if (!t || keyedWeightHash(key, tensorHash(t)) !== hash)
      throw new Error(`the server bundle lacks the plan's weight '${name}'`);
    inPlan.set(name, t);
  }
  return { inModel, inPlan };
}

/** Names of the tensors whose scan window occurs in `bytes`. */
function foundIn(bytes: Buffer, tensors: ReadonlyMap<string, Tensor>): string[] {
  return [...tensors].filter(([, t]) => bytes.includes(scanWindow(t))).map(([name]) => name);
}

describe.each(CASES.map((c) => [c.key, c] as const))('the client bundle of %s', (_key, c) => {
  it(
    'holds no private weight, and every public weight the plan needs',
    async () => {
      const p = await compiled.get(c.key)!;
      const plan = loadPlanModule(p.plan);
      const secrets = privateTensors(c, p, plan);
      expect(secrets.inModel.size).toBeGreaterThan(0);
      expect(secrets.inPlan.size).toBeGreaterThan(0);

      const clientBundleBytes = readFileSync(p.clientBundle);
      expect(foundIn(clientBundleBytes, secrets.inModel)).toEqual([]);
      expect(foundIn(clientBundleBytes, secrets.inPlan)).toEqual([]);
      // Controls: the same scan finds every one of them where they are stored.
      const modelBytes = readFileSync(examplePath(c.variant.file));
      expect(foundIn(modelBytes, secrets.inModel).length).toBe(secrets.inModel.size);
      expect(foundIn(readFileSync(p.serverBundle), secrets.inPlan).length).toBe(secrets.inPlan.size);

      const needed = planWeights(plan, 'public');
      expect(needed.size).toBeGreaterThan(0);
      const held = onnxWeights(p.clientBundle);
      for (const [name, hash] of needed) {
        const t = held.get(name);
        expect(t, `public weight '${name}'`).toBeDefined();
        expect(tensorHash(t!), `public weight '${name}'`).toBe(hash);
      }
      expect([...held.keys()].sort()).toEqual([...needed.keys()].sort());
      expect(foundIn(clientBundleBytes, held).length).toBe(held.size);
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * Unkeyed fingerprints of a tensor, computed here with node:crypto alone: the
 * SHA-256 over its dtype, shape and bytes (the form a plan would state) and
 * over its bytes alone, each as hex and as raw digest bytes.
 */
function fingerprints(t: Tensor): Buffer[] {
  const bytes = rawBytes(t);
  const withType = createHash('sha256')
    .update(`${t.dtype}[${t.shape.join(',')}]`)
    .update(bytes)
    .digest();
  const bare = createHash('sha256').update(bytes).digest();
  return [withType, bare].flatMap((d) => [d, Buffer.from(d.toString('hex'))]);
}

describe.each(CASES.map((c) => [c.key, c] as const))('the files the client holds for %s', (_key, c) => {
  it(
    'hold no unkeyed SHA-256 of any private weight (plan.ts and the client bundle)',
    async () => {
      const p = await compiled.get(c.key)!;
      const plan = loadPlanModule(p.plan);
      const { inModel, inPlan } = privateTensors(c, p, plan);
      const secrets = [...inModel.values(), ...inPlan.values()];
      expect(secrets.length).toBeGreaterThan(0);
      const files = [readFileSync(p.plan), readFileSync(p.clientBundle)];
      for (const t of secrets)
        for (const f of fingerprints(t)) for (const bytes of files) expect(bytes.includes(f)).toBe(false);
      // Control: the same scan finds the public weights' hashes in plan.ts (the client checks those).
      const planText = readFileSync(p.plan);
      const publics = [...onnxWeights(p.clientBundle).values()];
      expect(publics.length).toBeGreaterThan(0);
      for (const t of publics) expect(planText.includes(fingerprints(t)[1]!)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});

/** The repository's compiler options, as `tsc -p .` uses them. */
function repoCompilerOptions(): ts.CompilerOptions {
  const configPath = join(REPO, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, REPO).options;
}

function diagnosticsOf(program: ts.Program, file: string): string[] {
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`${file} is not in the program`);
  return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  );
}

describe('a generated plan.ts', () => {
  it(
    'copied to a project where marillc is installed, type-checks with no diagnostic (and an ill-typed edit of it does not)',
    async () => {
      const p = await compiled.get('gpt2/lora-merged')!;
      // A user's project: the plan copied alone, marillc in its node_modules (as `npm install` links it).
      const project = join(root, 'user-project');
      mkdirSync(join(project, 'node_modules'), { recursive: true });
      symlinkSync(REPO, join(project, 'node_modules', 'marillc'), 'dir');
      const plan = join(project, 'plan.ts');
      copyFileSync(p.plan, plan);
      // Control: a node whose placement is not a Placement must be caught by the same check.
      const source = readFileSync(plan, 'utf8');
      const broken = source.replace('"placement": "mpc"', '"placement": 42');
      expect(broken).not.toBe(source);
      const brokenFile = join(project, 'plan-ill-typed.ts');
      writeFileSync(brokenFile, broken);

      // A plan is an ES module: checked, like in a user's TypeScript project, inside a "type": "module"
      // package (outside one, NodeNext makes any .ts file CommonJS and `import` an error).
      writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
      const program = ts.createProgram([plan, brokenFile], repoCompilerOptions());
      expect(diagnosticsOf(program, plan)).toEqual([]);
      expect(diagnosticsOf(program, brokenFile).length).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );
});
