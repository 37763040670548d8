/**
 * `marillc MODEL --emit STAGE` stops after each stage of compiler/stages.ts and prints it.
 * The command runs in process (compiler/cli/cli.ts `main`, stdout and stderr captured), so
 * one test file can run every stage on a real example. Each IR stage's text must parse back
 * (ir/parse.ts) and print again unchanged, and must show what its stage boundary promises,
 * judged from op names, placements and protocols in the text, not from the stage table:
 * the frontend's IR has no fused ops and no placement, fusion brings layernorm and gelu,
 * approximation the --gelu form, placement share/reveal on every node, selection a protocol
 * on every MPC node.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../compiler/cli/cli.ts';
import { STAGE_NAMES } from '../compiler/stages.ts';
import type { Graph } from '../ir/graph.ts';
import { parseGraph } from '../ir/parse.ts';
import { printGraph } from '../ir/print.ts';
import { OP_PROTOCOLS } from '../runtime/protocols/registry.ts';
import { scratchDir } from './cli-harness.ts';

const MODEL = ['examples/gpt2/lora-merged.onnx', '--base', 'examples/gpt2/base.onnx', '--gelu', 'quad'];

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function marillc(args: readonly string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;
const hasApprox = (g: Graph, approx: string) =>
  g.nodes.some((n) => n.op === 'gelu' && n.attrs['approx'] === approx);

const IR_STAGES = ['onnx', 'cleaned', 'fused', 'approximated', 'placed', 'selected', 'verified', 'ir'];

describe('--emit STAGE: the IR after each stage', () => {
  const text: Record<string, string> = {};
  const graph: Record<string, Graph> = {};
  beforeAll(async () => {
    for (const stage of IR_STAGES) {
      const r = await marillc([...MODEL, '--emit', stage]);
      expect(r.code, `--emit ${stage}: ${r.stderr}`).toBe(0);
      text[stage] = r.stdout;
      graph[stage] = parseGraph(r.stdout, `${stage}.mir`);
    }
  });

  it.each(IR_STAGES)('%s prints .mir that parses back and prints again unchanged', (stage) => {
    expect(printGraph(graph[stage]!)).toBe(text[stage]);
  });

  it('onnx is the frontend IR: the GeLU and LayerNorm pieces unfused, nothing placed', () => {
    const g = graph['onnx']!;
    expect(count(g, 'pow')).toBeGreaterThan(0);
    expect(count(g, 'tanh')).toBeGreaterThan(0);
    expect(count(g, 'layernorm') + count(g, 'gelu')).toBe(0);
    expect(count(g, 'share') + count(g, 'reveal')).toBe(0);
    expect(g.nodes.every((n) => n.placement === undefined)).toBe(true);
  });

  it('cleaned has fewer nodes than onnx and is still unfused', () => {
    expect(graph['cleaned']!.nodes.length).toBeLessThan(graph['onnx']!.nodes.length);
    expect(count(graph['cleaned']!, 'layernorm')).toBe(0);
  });

  it('fused has the layernorm and gelu ops (in their exact forms) and no pow left', () => {
    const g = graph['fused']!;
    expect(count(g, 'layernorm')).toBeGreaterThan(0);
    expect(count(g, 'gelu')).toBeGreaterThan(0);
    expect(count(g, 'pow')).toBe(0);
    expect(hasApprox(g, 'quad')).toBe(false);
  });

  it('approximated has the --gelu quad form, nothing placed yet', () => {
    const g = graph['approximated']!;
    expect(count(g, 'gelu')).toBe(count(graph['fused']!, 'gelu'));
    expect(g.nodes.filter((n) => n.op === 'gelu').every((n) => n.attrs['approx'] === 'quad')).toBe(true);
    expect(g.nodes.every((n) => n.placement === undefined)).toBe(true);
  });

  it('placed has share and reveal, every node placed, no protocol chosen', () => {
    const g = graph['placed']!;
    expect(count(g, 'share')).toBeGreaterThan(0);
    expect(count(g, 'reveal')).toBeGreaterThan(0);
    expect(g.nodes.every((n) => n.placement !== undefined)).toBe(true);
    expect(g.nodes.some((n) => n.placement === 'mpc')).toBe(true);
    expect(g.nodes.every((n) => n.protocol === undefined)).toBe(true);
  });

  it("selected names a protocol of its op's registry entry on every MPC node", () => {
    const g = graph['selected']!;
    const mpc = g.nodes.filter((n) => n.placement === 'mpc');
    expect(mpc.length).toBe(graph['placed']!.nodes.filter((n) => n.placement === 'mpc').length);
    for (const n of mpc) expect(OP_PROTOCOLS[n.op]?.protocols).toContain(n.protocol);
  });

  it('verified and ir are the final IR: verification changes nothing after selection', () => {
    expect(text['verified']).toBe(text['selected']);
    expect(text['ir']).toBe(text['verified']);
  });
});

describe('--emit STAGE: the output stages', () => {
  it('cost prints the per-op table of the selected protocols', async () => {
    const r = await marillc([...MODEL, '--emit', 'cost']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^id\s+op\s+protocol\s+online/);
    expect(r.stdout).toContain('beaver.weight');
  });

  it('dot prints a Graphviz graph', async () => {
    const r = await marillc([...MODEL, '--emit', 'dot']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^digraph /);
  });

  it('plan prints the plan module and writes no file', async () => {
    const r = await marillc([...MODEL, '--emit', 'plan']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('definePlan(spec)');
    expect(r.stdout).toMatch(/"hash": "[0-9a-f]{64}"/);
    expect(r.stdout).toContain('--emit plan');
    expect(r.stderr).not.toContain('wrote');
    for (const f of ['plan.ts', 'plan.server.onnx', 'plan.client.onnx']) expect(existsSync(f)).toBe(false);
  });

  it('summary is the default', async () => {
    const plain = await marillc(MODEL);
    const summary = await marillc([...MODEL, '--emit', 'summary']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(summary.stdout).toBe(plain.stdout);
  });
});

describe('--emit STAGE: usage', () => {
  it('an unknown stage is bad usage (exit 2) that lists the stages', async () => {
    const r = await marillc([...MODEL, '--emit', 'lowered']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    for (const name of STAGE_NAMES) expect(r.stderr).toContain(name);
  });

  it('-o with a stage before the end of the pipeline is bad usage and writes nothing', async () => {
    const out = join(scratchDir(), 'plan.ts');
    const r = await marillc([...MODEL, '--emit', 'placed', '-o', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--emit placed stops before the plan');
    expect(existsSync(out)).toBe(false);
  });

  it('--dump-after a pass past the stop is accepted and dumps nothing; an unknown pass is an error', async () => {
    const r = await marillc([...MODEL, '--emit', 'fused', '--dump-after', 'place']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const traced = await marillc([...MODEL, '--emit', 'fused', '--dump-after', 'fuse']);
    expect(traced.stderr).toContain('// ----- IR after fuse -----');
    const bad = await marillc([...MODEL, '--emit', 'fused', '--dump-after', 'fusion']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown pass 'fusion'/);
  });
});
