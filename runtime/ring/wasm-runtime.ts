/**
 * The one instance of the ring kernel module per thread, its shared memory and
 * a scratch arena in it. Each ring operation (./kernels.ts) allocates its
 * operands in the arena, copies them in, runs kernels, copies the result out
 * and releases the arena: ring tensors themselves live on the JS heap as
 * BigInt64Array, so memory growth never invalidates them.
 *
 * The memory is a shared WebAssembly.Memory so the helper thread of
 * ./parallel.ts runs the same kernels on the same bytes (no copies).
 */
import { MarillError } from '../../ir/errors.ts';
import type { KernelExports } from './kernels-wasm.ts';
import { MAX_PAGES, WASM_PAGE_BYTES, kernelModuleBytes } from './kernels-wasm.ts';

/**
 * The slice of the WebAssembly JS API used here (the project's `lib` setting
 * has no DOM/WebAssembly declarations, so they are stated locally).
 */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  grow(pages: number): number;
}
/** An opaque compiled module (structured-cloneable to worker threads). */
export type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (desc: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface WasmRuntime {
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly k: KernelExports;
}

let runtime: WasmRuntime | undefined;

/** The kernel module, compiled and instantiated on first use. */
export function wasm(): WasmRuntime {
  if (runtime) return runtime;
  const module = new WA.Module(kernelModuleBytes());
  const memory = new WA.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
  const instance = new WA.Instance(module, { env: { mem: memory } });
  runtime = { module, memory, k: instance.exports as unknown as KernelExports };
  return runtime;
}

/**
 * Bump allocator over the kernel memory. `mark()`/`release(mark)` bracket one
 * ring operation; allocations are 64-byte aligned (cache lines, v128).
 */
class Arena {
  private top = 0;

  alloc(bytes: number): number {
    const at = this.top;
    this.top = (at + bytes + 63) & ~63;
    this.ensure(this.top);
    return at;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /** The current memory bytes (refreshed after growth). */
  bytes(): SharedArrayBuffer | ArrayBuffer {
    return wasm().memory.buffer;
  }

  private ensure(end: number): void {
    const mem = wasm().memory;
    const have = mem.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / WASM_PAGE_BYTES);
    if (have / WASM_PAGE_BYTES + pages > MAX_PAGES)
      throw new MarillError(`ring kernels need ${end} bytes of scratch memory, more than the 2 GiB limit`);
    mem.grow(pages);
  }
}

export const arena = new Arena();

/** A BigInt64Array view of n words at byte offset p of the kernel memory. */
export function i64View(p: number, n: number): BigInt64Array {
  return new BigInt64Array(arena.bytes(), p, n);
}

export function f64View(p: number, n: number): Float64Array {
  return new Float64Array(arena.bytes(), p, n);
}

export function f32View(p: number, n: number): Float32Array {
  return new Float32Array(arena.bytes(), p, n);
}

/** Copies a ring array into fresh arena space; returns its offset. */
export function putI64(src: BigInt64Array): number {
  const p = arena.alloc(src.length * 8);
  i64View(p, src.length).set(src);
  return p;
}

/**
 * A ring array of n words whose contents are NOT initialised: for results
 * that are overwritten in full. Skipping the zero fill of `new
 * BigInt64Array(n)` matters: kernels return a fresh array per operation.
 * (allocUnsafeSlow: its own ArrayBuffer, offset 0, so 8-byte aligned.)
 */
export function uninitializedRing(n: number): BigInt64Array {
  const bytes = Buffer.allocUnsafeSlow(8 * n);
  return new BigInt64Array(bytes.buffer, bytes.byteOffset, n);
}

/** Copies n words at p out to a new JS-heap array (or into `into`). */
export function takeI64(p: number, n: number, into?: BigInt64Array): BigInt64Array {
  const out = into ?? uninitializedRing(n);
  out.set(i64View(p, n));
  return out;
}

/** Runs `body` with the arena released afterwards, whatever happens. */
export function scoped<T>(body: () => T): T {
  const mark = arena.mark();
  try {
    return body();
  } finally {
    arena.release(mark);
  }
}
