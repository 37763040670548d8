// The folded-expression layer against hand-assembled bytes (opcodes from the WebAssembly
// spec's binary format, written out here independently of ./wasm-asm.ts), its type checks,
// and the name section it produces.
import { describe, expect, it } from 'vitest';
import { assembleModule } from './wasm-asm.ts';
import type { FunctionSpec } from './wasm-asm.ts';
import { FunctionBuilder, i32, i64, select, tee } from './wasm-expr.ts';

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: { new (bytes: Uint8Array): object; customSections(m: object, name: string): ArrayBuffer[] };
  Memory: new (desc: { initial: number; maximum: number }) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, (...args: number[]) => void> };
}
const W = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const MEMORY = { module: 'env', field: 'mem', initialPages: 1, maximumPages: 1, shared: false };

/** zero(p, n): the ring kernel's shape, `for (off = 0; off < 8n; off += 8) store64(p + off, 0)`. */
function zeroKernel(): FunctionSpec {
  const f = new FunctionBuilder('zero');
  const { p, n } = f.params({ p: 'i32', n: 'i32' });
  const { off, end } = f.locals({ off: 'i32', end: 'i32' });
  return f.build((s) => {
    s.set(end, i32.shl(n, 3));
    s.forRange(off, end, 8, (s) => {
      s.emit(i64.store(i32.add(p, off), 0n));
    });
  });
}

describe('wasm folded expressions', () => {
  it('lower to the stack code written by hand', () => {
    const spec = zeroKernel();
    const [p, n, off, end] = [0, 1, 2, 3];
    // prettier-ignore
    const expected = [
      0x20, n, 0x41, 3, 0x74, 0x21, end, //            local.get n; i32.const 3; i32.shl; local.set end
      0x02, 0x40, 0x03, 0x40, //                        block; loop
      0x20, off, 0x20, end, 0x4f, 0x0d, 1, //           local.get off; local.get end; i32.ge_u; br_if 1
      0x20, p, 0x20, off, 0x6a, 0x42, 0, 0x37, 3, 0, // (i64.store align=8 (i32.add p off) (i64.const 0))
      0x20, off, 0x41, 8, 0x6a, 0x21, off, //           local.set off (i32.add off (i32.const 8))
      0x0c, 0, 0x0b, 0x0b, //                           br 0; end; end
    ];
    expect(spec.body.bytes).toEqual(expected);
    expect(spec.params).toEqual(['i32', 'i32']);
    expect(spec.locals).toEqual(['i32', 'i32']);
    expect(spec.localNames).toEqual(['p', 'n', 'off', 'end']);
  });

  it('emits select, tee, if/else and memory offsets in operand order', () => {
    const f = new FunctionBuilder('mix');
    const { a, c } = f.params({ a: 'i32', c: 'i32' });
    const { x } = f.locals({ x: 'i64' });
    const spec = f.build((s) => {
      s.set(x, select(i64.load(a, 16), -2n, tee(a, i32.add(a, 1))));
      s.ifElse(
        c,
        (s) => s.emit(i32.store8(a, c, 3)),
        (s) => s.set(x, 0n),
      );
    });
    // prettier-ignore
    expect(spec.body.bytes).toEqual([
      0x20, 0, 0x29, 3, 16, //              i64.load offset=16 (local.get a)
      0x42, 0x7e, //                         i64.const -2
      0x20, 0, 0x41, 1, 0x6a, 0x22, 0, //    local.tee a (i32.add a 1)
      0x1b, 0x21, 2, //                      select; local.set x
      0x20, 1, 0x04, 0x40, //                local.get c; if
      0x20, 0, 0x20, 1, 0x3a, 0, 3, //       i32.store8 offset=3 a c
      0x05, 0x42, 0, 0x21, 2, 0x0b, //       else; local.set x (i64.const 0); end
    ]);
  });

  it('assembles a module that validates, runs and names its locals', () => {
    const bytes = assembleModule(MEMORY, [zeroKernel()]);
    expect(W.validate(bytes)).toBe(true);
    const module = new W.Module(bytes);
    const memory = new W.Memory({ initial: 1, maximum: 1 }) as { buffer: ArrayBuffer };
    const words = new BigInt64Array(memory.buffer, 0, 6).fill(-1n);
    new W.Instance(module, { env: { mem: memory } }).exports['zero']!(8, 4);
    expect([...words]).toEqual([-1n, 0n, 0n, 0n, 0n, -1n]);
    // Name section (spec appendix 7.4): function 0 is "zero", its locals p, n, off, end.
    const [names] = W.Module.customSections(module, 'name');
    const utf8 = (s: string) => [s.length, ...new TextEncoder().encode(s)];
    const functionNames = [1, 0, ...utf8('zero')];
    const localNames = [
      1,
      0,
      4,
      ...[...['p', 'n', 'off', 'end'].entries()].flatMap(([i, s]) => [i, ...utf8(s)]),
    ];
    expect([...new Uint8Array(names!)]).toEqual([
      ...[1, functionNames.length, ...functionNames],
      ...[2, localNames.length, ...localNames],
    ]);
  });

  it('rejects ill-typed operands, naming the operator and the local', () => {
    const f = new FunctionBuilder('bad');
    const { a } = f.params({ a: 'i32' });
    const { x } = f.locals({ x: 'i64' });
    expect(() => i64.add(a, x)).toThrow(/i64\.add: operand \$a \(i32\) where i64 is wanted/);
    expect(() => i32.add(a, 1n as unknown as number)).toThrow(/i32\.add: 1n is not an i32 constant/);
    expect(() => i32.shl(a, 1.5)).toThrow(/1\.5 is not an i32 constant/);
    expect(() => i32.add(a, 2 ** 32)).toThrow(/4294967296 is not an i32 constant/);
    expect(() => select(x, a, a)).toThrow(/select: operand \$a \(i32\) where i64 is wanted/);
    expect(() => f.build((s) => s.set(x, 1))).toThrow(/local\.set \$x: 1 is not an i64 constant/);
    expect(() => f.build((s) => s.emit(i32.add(a, 1)))).toThrow(/statement leaves a value of type i32/);
  });

  it('rejects a local declared twice and parameters after locals', () => {
    const f = new FunctionBuilder('decl');
    f.params({ a: 'i32' });
    f.locals({ b: 'i32' });
    expect(() => f.local('a', 'i64')).toThrow(/\$a declared twice/);
    expect(() => f.params({ c: 'i32' })).toThrow(/parameters must be declared before locals/);
  });
});
