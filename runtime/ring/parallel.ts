/**
 * One helper thread for large ring matrix products. It instantiates the same
 * kernel module on the same shared memory and waits on an Int32Array control
 * block with Atomics; the calling thread posts a range of A panels, computes
 * the other range itself, and waits (synchronously: Node allows Atomics.wait on
 * the main thread) for the helper. Keeping the API synchronous keeps every
 * protocol's code simple.
 *
 * The helper is started lazily, unref'd (it never keeps a process alive), and
 * used only where it pays (see `useHelperThread`). MARILL_THREADS=1 disables it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MarillError } from '../../ir/errors.ts';
import { wasm } from './wasm-runtime.ts';

/** Control block slots. */
const REQUESTED = 0;
const DONE = 1;
const ARGS = 2;
const ARG_COUNT = 7;

// The helper's source: plain JavaScript, so it runs without the TypeScript loader.
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData.control);
const inst = new WebAssembly.Instance(workerData.module, { env: { mem: workerData.memory } });
const gemm = inst.exports.gemm_packed;
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${REQUESTED}, seen);
  const job = Atomics.load(ctl, ${REQUESTED});
  if (job < 0) break;
  seen = job;
  const a = [];
  for (let i = 0; i < ${ARG_COUNT}; i++) a.push(ctl[${ARGS} + i]);
  gemm(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
  Atomics.store(ctl, ${DONE}, job);
  Atomics.notify(ctl, ${DONE});
}
`;

interface Helper {
  readonly worker: Worker;
  readonly control: Int32Array;
  job: number;
  broken: boolean;
}

let helper: Helper | undefined;

/** Threads to use for large products: MARILL_THREADS, else up to 2 of the machine's cores. */
export function threadCount(): number {
  const env = Number(process.env['MARILL_THREADS']);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 2);
  return Math.min(2, availableParallelism());
}

/** Products below this many multiply-adds are not worth a thread hand-off. */
const PARALLEL_MIN_MACS = 1 << 22;

export function useHelperThread(macs: number): boolean {
  return macs >= PARALLEL_MIN_MACS && threadCount() > 1 && !helper?.broken;
}

function startHelper(): Helper {
  const { module, memory } = wasm();
  const control = new Int32Array(new SharedArrayBuffer(4 * (ARGS + ARG_COUNT)));
  const worker = new Worker(HELPER_SOURCE, {
    eval: true,
    workerData: { module, memory, control: control.buffer },
  });
  worker.unref();
  const h: Helper = { worker, control, job: 0, broken: false };
  worker.on('error', () => {
    h.broken = true;
  });
  return h;
}

/** How long the caller waits for the helper before giving up (a helper that died). */
const HELPER_TIMEOUT_MS = 120_000;

/**
 * Runs gemm_packed over A panels [0, panels) split in two: the helper takes
 * the first part, this thread the rest.
 */
export function gemmTwoThreads(
  cp: number,
  ap: number,
  bp: number,
  k: number,
  nPanels: number,
  panels: number,
): void {
  helper ??= startHelper();
  const h = helper;
  const split = Math.floor(panels / 2);
  const args = [cp, ap, bp, k, nPanels, 0, split];
  for (let i = 0; i < ARG_COUNT; i++) h.control[ARGS + i] = args[i]!;
  h.job = (h.job % 0x3fffffff) + 1;
  Atomics.store(h.control, REQUESTED, h.job);
  Atomics.notify(h.control, REQUESTED);
  wasm().k.gemm_packed(cp, ap, bp, k, nPanels, split, panels);
  const deadline = Date.now() + HELPER_TIMEOUT_MS;
  while (Atomics.load(h.control, DONE) !== h.job) {
    const left = deadline - Date.now();
    if (left <= 0) {
      // The helper may still write into this memory later: never use it again.
      h.broken = true;
      throw new MarillError(
        'the ring matmul helper thread did not answer (set MARILL_THREADS=1 to run without it)',
      );
    }
    Atomics.wait(h.control, DONE, Atomics.load(h.control, DONE), Math.min(left, 1000));
  }
}
