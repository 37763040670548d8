/**
 * Reading plan files as data (./plan-module.ts) on a generated plan.ts and on
 * edits of it: every edit that would run code, drop the hash, change the
 * content, or (with the hash recomputed) break an information-flow rule is
 * refused with the line or the op at fault; nothing from the file runs.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'prettier';
import { afterAll, describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import type { Plan, PlanSpec } from '../../runtime/plan.ts';
import { makePlan, planSpec, specHash } from '../../runtime/plan.ts';
import { SMALL_LAYER, bertEncoderLayer } from '../../test/runtime/layers.ts';
import { generatePlanModule } from '../emit/codegen.ts';
import { PLAN_EPILOGUE, PLAN_PROLOGUE } from '../emit/plan-layout.ts';
import { loadPlanModule, readPlanSpec } from './plan-module.ts';

const dir = mkdtempSync(join(tmpdir(), 'marillc-plan-module-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plan: Plan = makePlan(bertEncoderLayer({ ...SMALL_LAYER, seed: 4, nonlinear: false }));
const text = generatePlanModule(plan, { source: 'layer.onnx', command: 'marillc layer.onnx -o plan.ts' });

let files = 0;
function writePlan(content: string): string {
  const path = join(dir, `plan-${files++}.ts`);
  writeFileSync(path, content);
  return path;
}

/** The error loading `content` raises (failing the test if it loads). */
function loadError(content: string): MarillError {
  const path = writePlan(content);
  try {
    loadPlanModule(path);
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error('the plan was accepted');
}

/** A plan file stating `spec` as plain JSON, with its hash recomputed (what a careful forger writes). */
function rehashed(edit: (spec: PlanSpec) => PlanSpec): string {
  const edited = edit(JSON.parse(JSON.stringify(planSpec(plan))) as PlanSpec);
  const spec = { ...edited, hash: specHash(edited) };
  return [
    ...PLAN_PROLOGUE,
    `const spec: PlanSpec = ${JSON.stringify(spec, null, 1)};`,
    ...PLAN_EPILOGUE,
  ].join('\n');
}

function lineOf(content: string, fragment: string): number {
  return content.slice(0, content.indexOf(fragment)).split('\n').length;
}

describe('a generated plan.ts', () => {
  it('is read back as the same plan (same hash, same ops)', () => {
    const loaded = loadPlanModule(writePlan(text));
    expect(loaded.hash).toBe(plan.hash);
    expect(loaded.graph.nodes.map((n) => n.op)).toEqual(plan.graph.nodes.map((n) => n.op));
    expect(loaded.privateWeights).toEqual(plan.privateWeights);
    expect(loaded.weightKey).toBeUndefined();
  });
});

describe('a reformatted plan', () => {
  it('reads the same (prettier: single quotes, unquoted keys, no semicolons)', async () => {
    const formatted = await format(text, {
      parser: 'typescript',
      singleQuote: true,
      quoteProps: 'as-needed',
      semi: false,
      printWidth: 60,
    });
    expect(formatted).not.toBe(text);
    expect(formatted).toContain("format: 'marill-plan/2'");
    expect(loadPlanModule(writePlan(formatted)).hash).toBe(plan.hash);
  });
});

describe('edits that would run code are refused, and nothing runs', () => {
  const marker = join(dir, 'ran.txt');
  const code = `globalThis.process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`;

  it.each([
    [
      'a statement after the imports',
      (t: string) => t.replace(PLAN_PROLOGUE[1]!, `${PLAN_PROLOGUE[1]!}\n${code}`),
    ],
    ['a statement at the end', (t: string) => `${t}\n${code}\n`],
    ['an import of another module', (t: string) => t.replace(PLAN_PROLOGUE[0]!, "import 'node:fs';")],
  ])('%s', (_what, edit) => {
    const edited = edit(text);
    expect(edited).not.toBe(text);
    const e = loadError(edited);
    expect(e.message).toMatch(/a plan is read as data/);
    expect(e.location.line).toBeGreaterThan(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('an expression inside the spec literal, named by its line', () => {
    const edited = text.replace('"fracBits": ', `"fracBits": (${code.slice(0, -1)}, 0) || `);
    expect(edited).not.toBe(text);
    const e = loadError(edited);
    expect(e.message).toMatch(/a plan is read as data/);
    expect(e.location.line).toBe(lineOf(edited, '"fracBits"'));
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['a template string', (t: string) => t.replace('"format": "marill-plan/2"', '"format": `marill-plan/2`')],
    ['a name instead of a value', (t: string) => t.replace('"fracBits": 16', '"fracBits": Infinity')],
    ['a call', (t: string) => t.replace('"fracBits": 16', '"fracBits": Number("16")')],
    ['a spread', (t: string) => t.replace('"inputs": [', '"inputs": [...globalThis.x, ')],
  ])('%s in the spec', (_what, edit) => {
    const edited = edit(text);
    expect(edited).not.toBe(text);
    expect(loadError(edited).message).toMatch(/a plan is read as data/);
  });

  it('a "__proto__" key stays data (refused as an attribute, prototypes untouched)', () => {
    const edited = text.replace('"attrs": {}', '"attrs": { "__proto__": { "polluted": 1 } }');
    expect(edited).not.toBe(text);
    expect(loadError(edited).message).toMatch(/attributes that are not strings/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('edits of the content', () => {
  it('a plan without its hash is refused', () => {
    const edited = text.replace(/\n\s*"hash": "[0-9a-f]{64}",/, '');
    expect(edited).not.toBe(text);
    expect(loadError(edited).format()).toMatch(/plan-\d+\.ts: the plan states no hash/);
  });

  it('a plan whose content no longer matches its hash is refused', () => {
    const edited = text.replace('"to": "client"', '"to": "server"');
    expect(edited).not.toBe(text);
    expect(loadError(edited).message).toMatch(/states hash [0-9a-f]{12}… but its content hashes to/);
  });
});

describe('information flow, checked on the loaded plan (hash recomputed)', () => {
  const reveal = plan.graph.nodes.find((n) => n.op === 'reveal')!;
  const revealed = reveal.outputs[0]!;

  it('a reveal retargeted to the server is refused, naming the op', () => {
    const e = loadError(
      rehashed((s) => ({
        ...s,
        values: s.values.map((v) => (v.id === revealed ? { ...v, visibility: 'server' } : v)),
        nodes: s.nodes.map((n) => (n.op === 'reveal' ? { ...n, attrs: { to: 'server' } } : n)),
      })),
    );
    expect(e.message).toMatch(/^information flow: reveal to the server is not allowed/);
    expect(e.location.what).toBe(`%${revealed} = reveal`);
  });

  it('a reveal whose result is no declared output is refused, naming the op', () => {
    const e = loadError(rehashed((s) => ({ ...s, outputs: [] })));
    expect(e.message).toMatch(/reveals a value that is not a declared output/);
    expect(e.location.what).toBe(`%${revealed} = reveal`);
  });

  it('an output the client is not given (a secret value) is refused', () => {
    const secret = plan.graph.nodes.find((n) => n.placement === 'mpc' && n.op !== 'reveal')!.outputs[0]!;
    const e = loadError(
      rehashed((s) => ({ ...s, outputs: [...s.outputs, { name: 'extra', value: secret }] })),
    );
    expect(e.message).toMatch(/output 'extra' is secret, not revealed to the client/);
  });

  it('a server computation on the client’s input in the clear is refused, naming the op', () => {
    // Move the first share of the client's input to the server in the clear: relabel it a server op.
    const share = plan.graph.nodes.find((n) => n.op === 'share')!;
    const e = loadError(
      rehashed((s) => ({
        ...s,
        nodes: s.nodes.map((n) =>
          n.outputs[0] === share.outputs[0]
            ? {
                ...n,
                op: 'reshape',
                attrs: { shape: [...plan.graph.values.get(share.outputs[0]!)!.type.shape] },
                placement: 'server',
              }
            : n,
        ),
        values: s.values.map((v) => (v.id === share.outputs[0] ? { ...v, visibility: 'server' } : v)),
      })),
    );
    // The structural rules (ir/verify.ts) refuse it first: a server result cannot be computed from client data.
    expect(e.message).toMatch(/results are recorded server but the join of the operands gives client/);
    expect(e.location.what).toContain(`%${share.outputs[0]} = reshape`);
  });

  it('control: the unedited spec, rehashed the same way, loads', () => {
    expect(loadPlanModule(writePlan(rehashed((s) => s))).hash).toBe(plan.hash);
  });
});

describe('readPlanSpec', () => {
  it('reads the literal without the runtime (pure data)', () => {
    const spec = readPlanSpec(text, 'plan.ts') as PlanSpec;
    expect(spec.hash).toBe(plan.hash);
    expect(spec.nodes.length).toBe(plan.graph.nodes.length);
  });
});
