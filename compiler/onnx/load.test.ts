/**
 * The loader: every initializer encoding gives the same IR tensor (checked
 * against hand-computed values), external data, in-place alignment of
 * unaligned float payloads, and one-line errors for bad files.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import onnxProto from 'onnx-proto';
import type { Tensor } from '../../ir/tensor.ts';
import { toNumbers } from '../../ir/tensor.ts';
import { errorLine, lowerBytes } from '../../test/fixtures/onnx-builders/differential.ts';
import { runOrt } from '../../test/fixtures/ort.ts';
import { randomTensor } from '../../test/fixtures/random.ts';
import { seededUniform } from '../../ir/random.ts';
import { interpret } from '../../ir/interpret.ts';
import type { OnnxDtypeName } from './dtypes.ts';
import { loadOnnx, parseOnnx } from './load.ts';
import { lowerOnnx } from './lower.ts';
import type { ModelSpec, TensorSpec } from './write.ts';
import { encodeOnnx, makeModel, writeOnnx } from './write.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';

const { onnx } = onnxProto;
const tmp = () => mkdtempSync(join(tmpdir(), 'marillc-onnx-'));

/** A model that just adds every initializer's sum into nothing: one Identity keeps the graph non-empty. */
function holder(initializers: (TensorSpec & { name: string })[]): ModelSpec {
  return {
    opset: 17,
    inputs: [{ name: 'x', type: 'float', shape: [1] }],
    outputs: [{ name: 'y', type: 'float', shape: [1] }],
    initializers,
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  };
}

// Values exactly representable in each source type, and what the IR holds for them (derived by hand).
const CASES: readonly {
  type: OnnxDtypeName;
  values: readonly (number | bigint)[];
  expected: readonly (number | bigint)[];
}[] = [
  { type: 'float', values: [1.5, -2.25, 3e-8, 65536], expected: [1.5, -2.25, Math.fround(3e-8), 65536] },
  { type: 'double', values: [0.1, -1e10, 2], expected: [Math.fround(0.1), Math.fround(-1e10), 2] },
  { type: 'float16', values: [0.5, -2, 65504, 2 ** -24], expected: [0.5, -2, 65504, 2 ** -24] },
  { type: 'bfloat16', values: [1.5, -0.25, 256, 3.0e38], expected: [1.5, -0.25, 256, 1.765625 * 2 ** 127] }, // 3e38 = 1.7632 * 2^127 rounds to 226/128 * 2^127
  { type: 'int8', values: [-128, 127, 0], expected: [-128n, 127n, 0n] },
  { type: 'uint8', values: [0, 255, 7], expected: [0n, 255n, 7n] },
  { type: 'int16', values: [-32768, 32767], expected: [-32768n, 32767n] },
  { type: 'uint16', values: [65535, 1], expected: [65535n, 1n] },
  { type: 'int32', values: [-2147483648, 2147483647, 5], expected: [-2147483648n, 2147483647n, 5n] },
  { type: 'uint32', values: [4294967295, 3], expected: [4294967295n, 3n] },
  {
    type: 'int64',
    values: [9223372036854775807n, -9223372036854775808n, -1n],
    expected: [9223372036854775807n, -9223372036854775808n, -1n],
  },
  { type: 'uint64', values: [12345678901234n, 0n], expected: [12345678901234n, 0n] },
  { type: 'bool', values: [1, 0, 1], expected: [1, 0, 1] },
];

describe('initializer encodings', () => {
  test.each(CASES.map((c) => [c.type, c] as const))(
    '%s: raw_data and typed field give the same tensor',
    (_t, c) => {
      const spec = (encoding: 'raw' | 'typed') =>
        ({
          name: encoding,
          type: c.type,
          dims: [c.values.length],
          values: c.values,
          encoding,
        }) as TensorSpec & { name: string };
      const model = parseOnnx(encodeOnnx(makeModel(holder([spec('raw'), spec('typed')]))), 'm.onnx');
      const raw = model.initializers.get('raw')!;
      const typed = model.initializers.get('typed')!;
      expect(raw.sourceType).toBe(c.type);
      expect(typed.sourceType).toBe(c.type);
      const values = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);
      expect(values(raw.tensor)).toEqual(c.expected);
      expect(values(typed.tensor)).toEqual(c.expected);
      expect(raw.tensor.dtype).toBe(typed.tensor.dtype);
      expect(raw.tensor.shape).toEqual([c.values.length]);
    },
  );

  test('float payloads at every alignment load as views of the file buffer, with the right values', () => {
    const dir = tmp();
    const names = ['a', 'ab', 'abc', 'abcd', 'abcde'];
    const values = (k: number) => Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i + k)));
    writeOnnx(
      join(dir, 'm.onnx'),
      makeModel(holder(names.map((name, k) => ({ name, type: 'float', dims: [64], values: values(k) })))),
    );
    const model = loadOnnx(join(dir, 'm.onnx'));
    names.forEach((name, k) => {
      const t = model.initializers.get(name)!.tensor;
      expect(toNumbers(t)).toEqual(values(k));
      // A view into the whole-file buffer, not a per-tensor copy.
      expect(t.data.buffer.byteLength).toBeGreaterThan(t.data.byteLength);
    });
    // The same bytes parsed without owning the buffer: some payloads were unaligned, so they are copies there.
    const parsed = parseOnnx(readFileSync(join(dir, 'm.onnx')), 'm.onnx');
    const copies = names.filter((name) => {
      const t = parsed.initializers.get(name)!.tensor;
      return t.data.buffer.byteLength === t.data.byteLength;
    });
    expect(copies.length).toBeGreaterThan(0);
    names.forEach((name, k) => expect(toNumbers(parsed.initializers.get(name)!.tensor)).toEqual(values(k)));
  });
});

describe('external data', () => {
  const spec: ModelSpec = {
    opset: 17,
    inputs: [{ name: 'x', type: 'float', shape: [2, 4] }],
    outputs: [{ name: 'y', type: 'float', shape: [2, 3] }],
    initializers: [
      { name: 'w', type: 'float', dims: [4, 3], values: Array.from({ length: 12 }, (_, i) => i / 7 - 0.5) },
      { name: 'b', type: 'float', dims: [3], values: [0.25, -1, 2] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] },
      { op: 'Add', inputs: ['h', 'b'], outputs: ['y'] },
    ],
  };

  test('initializers moved to a data file load and compute like onnxruntime', async () => {
    const dir = tmp();
    const path = join(dir, 'ext.onnx');
    writeOnnx(path, makeModel(spec), { externalData: { location: 'ext.weights', minBytes: 0 } });
    const proto = onnx.ModelProto.decode(readFileSync(path));
    expect(
      proto.graph!.initializer!.every((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL),
    ).toBe(true);
    const feeds = new Map([['x', randomTensor('f32', [2, 4], seededUniform(7))]]);
    const theirs = await runOrt(path, feeds);
    const ours = interpret(lowerOnnx(loadOnnx(path), { file: path }), feeds);
    expect(tensorMaxAbsDiff(ours.get('y')!, theirs.get('y')!)).toBeLessThanOrEqual(1e-5);
  });

  /** A model whose one initializer 'w' (float[3]) is external with the given key/value pairs. */
  function externalModel(dir: string, entries: Record<string, string>): string {
    const model = makeModel({ ...holder([{ name: 'w', type: 'float', dims: [3], values: [0, 0, 0] }]) });
    const t = model.graph!.initializer![0]!;
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = Object.entries(entries).map(([key, value]) => ({ key, value }));
    const path = join(dir, 'm.onnx');
    writeFileSync(path, encodeOnnx(model));
    return path;
  }

  test('offset and length select bytes inside the data file', () => {
    const dir = tmp();
    const payload = new Float32Array([1.5, -2, 4]);
    writeFileSync(
      join(dir, 'd.bin'),
      Buffer.concat([Buffer.from('junk!'), Buffer.from(payload.buffer), Buffer.from('tail')]),
    );
    const path = externalModel(dir, { location: 'd.bin', offset: '5', length: '12' });
    expect(toNumbers(loadOnnx(path).initializers.get('w')!.tensor)).toEqual([1.5, -2, 4]);
  });

  test('a missing data file, a short file and an escaping location are errors naming the model', () => {
    const dir = tmp();
    const missing = externalModel(dir, { location: 'nope.bin' });
    expect(errorLine(() => loadOnnx(missing))).toBe(
      `${missing}: external data file 'nope.bin' of tensor 'w' cannot be read (no such file)`,
    );
    writeFileSync(join(dir, 'short.bin'), Buffer.alloc(8));
    const short = externalModel(dir, { location: 'short.bin' });
    expect(errorLine(() => loadOnnx(short))).toBe(
      `${short}: external tensor 'w' (offset 0, length 12) extends past the end of 'short.bin' (8 bytes)`,
    );
    const escaping = externalModel(dir, { location: '../etc/passwd' });
    expect(errorLine(() => loadOnnx(escaping))).toContain(
      "location '../etc/passwd' of tensor 'w' must be a path inside",
    );
  });
});

describe('bad files', () => {
  const good = encodeOnnx(
    makeModel(holder([{ name: 'w', type: 'float', dims: [256], values: new Array<number>(256).fill(1) }])),
  );

  test('a truncated file', () => {
    const dir = tmp();
    const path = join(dir, 'cut.onnx');
    writeFileSync(path, good.subarray(0, good.length - 100));
    expect(errorLine(() => loadOnnx(path))).toMatch(
      new RegExp(`^${path.replace(/[.]/g, '\\.')}: not an ONNX model \\(protobuf decode failed: [^\\n]+\\)$`),
    );
  });

  test('a file that is not ONNX', () => {
    const dir = tmp();
    const path = join(dir, 'notes.onnx');
    writeFileSync(path, 'hello, this is a text file\n');
    expect(errorLine(() => loadOnnx(path))).toMatch(
      new RegExp(`^${path.replace(/[.]/g, '\\.')}: not an ONNX model \\(`),
    );
  });

  test('a model with an empty graph', () => {
    const bytes = encodeOnnx(makeModel({ opset: 17, inputs: [], outputs: [], nodes: [] }));
    expect(errorLine(() => parseOnnx(bytes, 'empty.onnx'))).toBe(
      'empty.onnx: the model graph is empty (it has no nodes)',
    );
  });

  test('a missing file', () => {
    expect(errorLine(() => loadOnnx('/nonexistent/model.onnx'))).toBe(
      '/nonexistent/model.onnx: cannot read file (no such file)',
    );
  });

  test('raw data of the wrong size', () => {
    const model = makeModel(holder([{ name: 'w', type: 'float', dims: [4], values: [1, 2, 3, 4] }]));
    model.graph!.initializer![0]!.dims = [5];
    expect(errorLine(() => parseOnnx(encodeOnnx(model), 'm.onnx'))).toBe(
      "m.onnx: initializer 'w': tensor 'w' has 16 bytes of raw data; float[5] needs 20",
    );
  });
});

test('lowerBytes smoke: the holder model lowers to nothing but its input', () => {
  const g = lowerBytes(encodeOnnx(makeModel(holder([]))));
  expect(g.nodes).toEqual([]);
  expect(g.outputs).toEqual([{ name: 'y', value: 'x' }]);
});
