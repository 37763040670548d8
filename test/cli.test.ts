/**
 * The CLI contract (docs/cli.md) end to end: exit codes, one-line errors that
 * name the file / node / tensor at fault, nothing half-written, and `eval`
 * against onnxruntime-node as the independent oracle.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeOnnx, makeModel } from '../compiler/onnx/write.ts';
import { marillc, scratchDir } from './cli-harness.ts';

const GPT2 = 'examples/gpt2/base.onnx';
const GPT2_INPUT = 'examples/gpt2/input.json';

function expectOneLineError(r: { code: number; stderr: string }, ...fragments: string[]): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^marillc: error: /);
  for (const f of fragments) expect(lines[0]).toContain(f);
}

function writeModel(dir: string, name: string, spec: Parameters<typeof makeModel>[0]): string {
  const path = join(dir, name);
  writeFileSync(path, encodeOnnx(makeModel(spec)));
  return path;
}

describe('usage', () => {
  it('--help lists the commands and examples, exit 0', () => {
    const r = marillc(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('eval');
    expect(r.stdout).toContain('Examples:');
  });

  it('an unknown option is bad usage: exit 2', () => {
    const r = marillc([GPT2, '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });

  it('a bad --emit choice is bad usage: exit 2', () => {
    expect(marillc([GPT2, '--emit', 'pdf']).code).toBe(2);
  });

  it('eval without --input is bad usage: exit 2', () => {
    expect(marillc(['eval', GPT2]).code).toBe(2);
  });
});

describe('bad model files', () => {
  const dir = scratchDir();

  it('a missing file', () => {
    expectOneLineError(marillc([join(dir, 'nope.onnx')]), 'nope.onnx', 'cannot read file');
  });

  it('a truncated file', () => {
    const bytes = readFileSync(GPT2);
    const path = join(dir, 'truncated.onnx');
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 3)));
    expectOneLineError(marillc([path]), 'truncated.onnx');
  });

  it('a file that is not ONNX', () => {
    const path = join(dir, 'text.onnx');
    writeFileSync(path, 'this is not a protobuf\n'.repeat(50));
    expectOneLineError(marillc([path]), 'text.onnx', 'not an ONNX model');
  });

  it('an unknown extension', () => {
    const path = join(dir, 'model.txt');
    writeFileSync(path, 'x');
    expectOneLineError(marillc([path]), 'model.txt', 'expected .onnx or .mir');
  });

  it('an unsupported op names the op, the node and the opset', () => {
    const path = writeModel(dir, 'unsupported.onnx', {
      opset: 17,
      inputs: [{ name: 'x', type: 'float', shape: [2, 3] }],
      outputs: [{ name: 'y', type: 'float' }],
      initializers: [],
      nodes: [
        { op: 'Relu', name: 'ok_node', inputs: ['x'], outputs: ['h'] },
        { op: 'CumSum', name: 'cumsum_7', inputs: ['h', 'axis'], outputs: ['y'] },
      ],
    });
    expectOneLineError(marillc([path]), 'unsupported.onnx', "'cumsum_7'", "'CumSum'", 'opset 17');
  });

  it('incompatible static shapes name the node', () => {
    const path = writeModel(dir, 'shapes.onnx', {
      opset: 14,
      inputs: [
        { name: 'a', type: 'float', shape: [2, 3] },
        { name: 'b', type: 'float', shape: [4, 5] },
      ],
      outputs: [{ name: 'y', type: 'float' }],
      initializers: [],
      nodes: [{ op: 'Add', name: 'add_bad', inputs: ['a', 'b'], outputs: ['y'] }],
    });
    expectOneLineError(marillc([path]), 'shapes.onnx', 'add_bad', 'broadcast');
  });

  it('a dynamic input dimension left unfixed names the input', () => {
    expectOneLineError(marillc(['examples/llama/base.onnx']), 'input_ids', '--shape');
  });

  it('--verbose adds the stack trace', () => {
    const r = marillc([join(dir, 'nope.onnx'), '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').length).toBeGreaterThan(2);
  });
});

describe('eval', () => {
  const dir = scratchDir();

  it('matches onnxruntime-node on the gpt2 example', async () => {
    const out = join(dir, 'out.json');
    const r = marillc(['eval', GPT2, '--input', GPT2_INPUT, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const ours = JSON.parse(readFileSync(out, 'utf8')) as { logits: number[][][] };
    const input = JSON.parse(readFileSync(GPT2_INPUT, 'utf8')) as { input_ids: number[][] };
    const ids = input.input_ids[0]!;
    const session = await ort.InferenceSession.create(readFileSync(GPT2));
    const result = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
    });
    const theirs = result['logits']!.data as Float32Array;
    const flat = ours.logits.flat(2);
    expect(flat).toHaveLength(theirs.length);
    let maxErr = 0;
    flat.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - theirs[i]!))));
    expect(maxErr).toBeLessThanOrEqual(1e-4);
  });

  function evalWith(input: unknown): ReturnType<typeof marillc> {
    const path = join(dir, `in-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(input));
    return marillc(['eval', GPT2, '--input', path]);
  }

  const ids = [[1, 2, 3, 4, 5, 6, 7, 8]];

  it('a missing tensor is named', () => {
    expectOneLineError(evalWith({}), 'input_ids', 'missing');
  });

  it('a wrong shape is named with the shape the model needs', () => {
    expectOneLineError(evalWith({ input_ids: [[1, 2, 3]] }), 'input_ids', '[1,8]');
  });

  it('a wrong dtype (floats for an i64 input) is named', () => {
    expectOneLineError(evalWith({ input_ids: [[1.5, 2, 3, 4, 5, 6, 7, 8]] }), 'input_ids');
  });

  it('an input that is not JSON names the file', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{"input_ids": [[1,2');
    expectOneLineError(marillc(['eval', GPT2, '--input', path]), 'broken.json', 'not valid JSON');
  });

  it('a failed run leaves no output file behind', () => {
    const out = join(dir, 'never.json');
    const path = join(dir, 'bad-in.json');
    writeFileSync(path, JSON.stringify({ input_ids: [[1]] }));
    expect(marillc(['eval', GPT2, '--input', path, '--out', out]).code).toBe(1);
    expect(existsSync(out)).toBe(false);
    void ids;
  });
});

describe('compile', () => {
  const dir = scratchDir();

  it('--emit ir output is .mir that the compiler accepts back', () => {
    const mir = join(dir, 'gpt2.mir');
    const first = marillc([GPT2, '--emit', 'ir']);
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(mir, first.stdout);
    const again = marillc([mir, '--emit', 'ir']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(first.stdout);
  });

  it('-o writes the plan and its bundles; a failed compile writes nothing', () => {
    const plan = join(dir, 'plan.ts');
    const ok = marillc([GPT2, '--base', GPT2, '-o', plan]);
    expect(ok.code, ok.stderr).toBe(0);
    const text = readFileSync(plan, 'utf8');
    // Portable: the runtime by package name, never a path into this checkout.
    expect(text).toContain("import { definePlan } from 'marillc/plan';");
    expect(text).not.toMatch(/from '\.{1,2}\//);
    expect(existsSync(join(dir, 'plan.server.onnx'))).toBe(true);
    const failed = join(dir, 'failed.ts');
    expect(marillc([GPT2, '--private', 'no.such.weight', '-o', failed]).code).toBe(1);
    expect(existsSync(failed)).toBe(false);
    expect(existsSync(join(dir, 'failed.server.onnx'))).toBe(false);
  });

  it.each(['plan.js', 'plan', 'plan.json'])(
    '-o %s (not a .ts/.mts module) is bad usage: exit 2, nothing written',
    (name) => {
      const out = join(dir, 'usage', name);
      const r = marillc([GPT2, '-o', out]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('.ts or .mts');
      expect(existsSync(join(dir, 'usage'))).toBe(false);
    },
  );

  it('-o plan.mts is a plan module too', () => {
    const plan = join(dir, 'module.mts');
    const r = marillc([GPT2, '--base', GPT2, '-o', plan]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(plan)).toBe(true);
    expect(existsSync(join(dir, 'module.server.onnx'))).toBe(true);
  });

  it('--dump-after with an unknown pass is an error naming the passes', () => {
    expectOneLineError(marillc([GPT2, '--dump-after', 'nosuchpass']), 'nosuchpass', 'fuse');
  });

  it('-o under a path that cannot be a directory is an error naming it', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    expectOneLineError(marillc([GPT2, '-o', join(file, 'plan.ts')]), `${file}: cannot create directory`);
  });
});

describe('dealer material files', () => {
  const dir = scratchDir();
  const plan = join(dir, 'plan.ts');
  const material = join(dir, 'material');
  const certs = join(dir, 'certs');
  const client = (materialDir: string) =>
    marillc([
      'run',
      plan,
      '--party',
      'client',
      '--model',
      GPT2,
      '--connect',
      '127.0.0.1:9',
      '--dealer-dir',
      materialDir,
      '--input',
      GPT2_INPUT,
      '--certs',
      certs,
    ]);

  it('a material directory that cannot be written, or is damaged, is an error naming it', () => {
    const compiled = marillc([GPT2, '--base', GPT2, '-o', plan]);
    expect(compiled.code, compiled.stderr).toBe(0);
    expect(marillc(['certs', '--out', certs, '--parties', 'client']).code).toBe(0);
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const under = join(file, 'material');
    expectOneLineError(
      marillc(['run', plan, '--party', 'dealer', '--dealer-dir', under]),
      `${under}: cannot write dealer material`,
    );
    const dealt = marillc(['run', plan, '--party', 'dealer', '--dealer-dir', material]);
    expect(dealt.code, dealt.stderr).toBe(0);
    rmSync(join(material, 'client', 'seeds.bin'));
    expectOneLineError(
      client(join(material, 'client')),
      `${join(material, 'client')}: cannot read seeds.bin`,
    );
  });
});
