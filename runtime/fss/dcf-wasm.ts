/**
 * WebAssembly kernels for the DCF (./dcf.ts), written as folded expressions over named locals
 * (../ring/wasm-expr.ts) and assembled at startup (../ring/wasm-asm.ts); their memory layout
 * is stated in ./dcf-wasm-common.ts. One tree level of a batch of evaluations is three steps:
 *   `prep`   builds every point's PRG input blocks (its seed xor the tweak of the side its
 *            input bit selects) and records the sides (./dcf-wasm-common.ts);
 *   AES      one node:crypto AES-ECB call over all blocks (AES-NI), outside WebAssembly;
 *   `level`  completes the Matyas-Meyer-Oseas hash (output xor input), applies the correction
 *            words where the control bit is set, and adds the value words into the outputs
 *            (./dcf-wasm-eval.ts; the fused variants also do the next level's `prep`).
 * `leaf` does the final conversion step; `gen`/`genLeaf` (./dcf-wasm-gen.ts) are the dealer's
 * side. All arithmetic is native i64 (mod 2^64): no BigInt.
 *
 * The module has its own memory (not the ring kernels'), used as a scratch arena per batch.
 */
import { assembleModule } from '../ring/wasm-asm.ts';
import { prepKernel } from './dcf-wasm-common.ts';
import { leafKernel, levelFusedKernel, levelKernel } from './dcf-wasm-eval.ts';
import { genKernel, genLeafKernel } from './dcf-wasm-gen.ts';

export { CONVERT_TWEAK, SIDE_TWEAK } from './dcf-wasm-common.ts';

/** The arguments every tree-level kernel starts with (see ./dcf-wasm-eval.ts). */
type LevelArgs = [
  enc: number,
  seeds: number,
  ctrl: number,
  sides: number,
  acc: number,
  scw: number,
  ccw: number,
  vcw: number,
  m: number,
  keys: number,
];

type LevelFused = (
  ...args: [
    ...LevelArgs,
    x: number,
    blocks: number,
    nextBitPos: bigint,
    nextBase: number,
    nextUseSide: number,
    nextPer: number,
  ]
) => void;

export interface DcfKernels {
  prep(
    x: number,
    seeds: number,
    blocks: number,
    sides: number,
    m: number,
    bitPos: bigint,
    perSide: number,
    base: number,
    useSide: number,
  ): void;
  level(...args: [...LevelArgs, w: number, perSide: number]): void;
  leaf(
    enc: number,
    seeds: number,
    ctrl: number,
    acc: number,
    fcw: number,
    m: number,
    keys: number,
    w: number,
    vb: number,
  ): void;
  levelFused1: LevelFused;
  levelFused2: LevelFused;
  gen(
    encL0: number,
    encR0: number,
    encL1: number,
    encR1: number,
    seeds0: number,
    seeds1: number,
    ctrl0: number,
    ctrl1: number,
    alpha: number,
    bitPos: bigint,
    beta: number,
    vAlpha: number,
    scw: number,
    ccw: number,
    vcw: number,
    keys: number,
    w: number,
    perSide: number,
  ): void;
  genLeaf(
    enc0: number,
    enc1: number,
    seeds0: number,
    seeds1: number,
    ctrl1: number,
    vAlpha: number,
    fcw: number,
    keys: number,
    w: number,
    vb: number,
  ): void;
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
const MAX_PAGES = 65536;

/** The kernels and a bump arena over their memory. */
export class DcfWasm {
  readonly k: DcfKernels;
  private readonly memory: WasmMemory;
  private top = 0;

  constructor() {
    this.memory = new WA.Memory({ initial: 16, maximum: MAX_PAGES });
    const bytes = assembleModule(
      { module: 'env', field: 'mem', initialPages: 16, maximumPages: MAX_PAGES, shared: false },
      [
        prepKernel(),
        levelKernel(),
        leafKernel(),
        genKernel(),
        genLeafKernel(),
        levelFusedKernel(1),
        levelFusedKernel(2),
      ],
    );
    const instance = new WA.Instance(new WA.Module(bytes), { env: { mem: this.memory } });
    this.k = instance.exports as unknown as DcfKernels;
  }

  /** Frees everything allocated so far. */
  reset(): void {
    this.top = 0;
  }

  /** `bytes` of zeroed, 16-byte aligned memory; returns the offset. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = (at + bytes + 15) & ~15;
    const have = this.memory.buffer.byteLength;
    if (this.top > have) this.memory.grow(Math.ceil((this.top - have) / PAGE));
    new Uint8Array(this.memory.buffer, at, bytes).fill(0);
    return at;
  }

  bytes(at: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, at, length);
  }

  words(at: number, count: number): BigInt64Array {
    return new BigInt64Array(this.memory.buffer, at, count);
  }
}

let instance: DcfWasm | undefined;

/** The per-thread kernel instance. */
export function dcfWasm(): DcfWasm {
  instance ??= new DcfWasm();
  return instance;
}
