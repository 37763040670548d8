/**
 * Dealer material generated ahead to files: one directory per party,
 *
 *   DIR/server/  manifest.json  seeds.bin  material.bin  progress.json
 *   DIR/client/  ...
 *
 * material.bin is every frame of every inference in order, each as a 4-byte
 * little-endian length and the bytes. Each party is given its own directory
 * only (`--dealer-dir DIR/client`) and refuses any other: the other party's
 * (a client holding the server's seeds and frames could unmask the server's
 * weights) and the parent DIR holding both. progress.json records how
 * many inferences were used, so material is never used twice (reusing
 * correlated randomness would break its one-time masks): the server reserves
 * each inference and tells the client its index (runtime/serve/control.ts),
 * and the client refuses an index below its own record. Each inference's
 * streams derive from the seeds and its index (./streams.ts), so any
 * inference can be used on its own.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  read,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { MarillError } from '../../ir/errors.ts';
import { bindPlan } from '../bound-plan.ts';
import type { Plan } from '../plan.ts';
import type { Party } from '../protocol.ts';
import { PARTIES, partyIndex } from '../protocol.ts';
import type { MaterialFeed } from './feeds.ts';
import { PlanDealer } from './feeds.ts';
import type { PartySeeds } from './streams.ts';
import { SEED_BYTES } from '../crypto/prg.ts';

export const MATERIAL_FORMAT = 'marill-dealer/1';

export interface MaterialManifest {
  readonly format: typeof MATERIAL_FORMAT;
  readonly party: Party;
  readonly planHash: string;
  /** Random id of the dealer session that wrote both directories. */
  readonly session: string;
  readonly inferences: number;
  readonly opsPerInference: number;
  /** Material bytes per inference (frame payloads, as accounted offline). */
  readonly bytesPerInference: number;
}

/**
 * A file-system step on the material directory. Its failures (a missing or damaged directory, no
 * permission, a full disk) are the user's to fix, so they become located errors, not internal ones.
 */
function onDisk<T>(path: string, what: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof MarillError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new MarillError(`cannot ${what} (${code ?? (e as Error).message})`, { file: path });
  }
}

/** Writes `inferences` inferences of material for both parties under dir/server and dir/client. */
export function writeDealerMaterial(plan: Plan, dir: string, inferences: number): MaterialManifest[] {
  if (!Number.isInteger(inferences) || inferences < 1)
    throw new MarillError(`cannot write material for ${inferences} inferences`);
  const dealer = new PlanDealer(plan);
  const fds: number[] = [];
  const opened = (fd: number): number => {
    fds.push(fd);
    return fd;
  };
  try {
    return onDisk(dir, 'write dealer material', () => writeFrames(plan, dir, inferences, dealer, opened));
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}

/** The files of writeDealerMaterial; `opened` records each descriptor for the caller to close. */
function writeFrames(
  plan: Plan,
  dir: string,
  inferences: number,
  dealer: PlanDealer,
  opened: (fd: number) => number,
): MaterialManifest[] {
  const fds = PARTIES.map((party) => {
    const d = join(dir, party);
    // Owner-only: each folder goes to one party (on a shared machine, to one account).
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const seeds = dealer.seeds[partyIndex(party)];
    const seedBytes = new Uint8Array(2 * SEED_BYTES);
    seedBytes.set(seeds.stream, 0);
    seedBytes.set(seeds.session, SEED_BYTES);
    writeFileSync(join(d, 'seeds.bin'), seedBytes, { mode: 0o600 });
    writeFileSync(join(d, 'progress.json'), JSON.stringify({ used: 0 }));
    return opened(openSync(join(d, 'material.bin'), 'w', 0o600));
  });
  const bytes = [0, 0];
  for (let i = 0; i < inferences; i++) {
    const frames = dealer.dealInference();
    frames.forEach((list, p) => {
      for (const f of list) {
        const head = Buffer.alloc(4);
        head.writeUInt32LE(f.byteLength, 0);
        writeSync(fds[p]!, head);
        writeSync(fds[p]!, f);
        if (i === 0) bytes[p]! += f.byteLength;
      }
    });
  }
  return PARTIES.map((party, p) => {
    const manifest: MaterialManifest = {
      format: MATERIAL_FORMAT,
      party,
      planHash: plan.hash,
      session: dealer.id,
      inferences,
      opsPerInference: dealer.opCount,
      bytesPerInference: bytes[p]!,
    };
    writeFileSync(join(dir, party, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  });
}

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new MarillError(`cannot read ${what}: ${(e as Error).message}`, { file: path });
  }
}

/**
 * A party's own material directory (DIR/<party>, holding manifest.json; the
 * parent DIR and the other party's are refused), opened once: its manifest, seeds and use record. Sessions
 * take feeds from it (`feed()`, each with its own file descriptor); every
 * inference is reserved here first, so material is used once across all
 * sessions of a process. The use record (progress.json) is a high-water mark:
 * every inference below it is used or skipped, never handed out again. One
 * process per directory: two processes reserving from one folder would each
 * see only their own reservations.
 */
export class MaterialFolder {
  private used: number;
  /** Byte offset in material.bin of each inference met so far (inference k at offsets[k]). */
  private readonly offsets: number[] = [0];

  private constructor(
    readonly dir: string,
    readonly manifest: MaterialManifest,
    readonly seeds: PartySeeds,
    used: number,
  ) {
    this.used = used;
  }

  static open(plan: Plan, party: Party, dir: string): MaterialFolder {
    const d = dir;
    const manifestPath = join(d, 'manifest.json');
    if (!existsSync(manifestPath) && PARTIES.some((p) => existsSync(join(d, p, 'manifest.json'))))
      throw new MarillError(
        `holds both parties' dealer material: give the ${party} only its own folder (--dealer-dir ${join(d, party)}), and never the other's`,
        { file: d },
      );
    const m = readJson<MaterialManifest>(manifestPath, 'dealer material manifest');
    if (m.format !== MATERIAL_FORMAT)
      throw new MarillError(`not ${MATERIAL_FORMAT} material`, { file: manifestPath });
    if (m.party !== party)
      throw new MarillError(
        `is the ${m.party}'s dealer material: the ${party} must be given only its own folder (DIR/${party}), never the ${m.party}'s`,
        { file: d },
      );
    if (m.planHash !== plan.hash)
      throw new MarillError(
        `was generated for another plan (${m.planHash.slice(0, 12)}…, this plan ${plan.hash.slice(0, 12)}…)`,
        { file: d },
      );
    if (m.opsPerInference !== bindPlan(plan).length)
      throw new MarillError(
        `has ${m.opsPerInference} frames per inference, the plan needs ${bindPlan(plan).length}`,
        { file: d },
      );
    const seedBytes = onDisk(d, 'read seeds.bin', () => readFileSync(join(d, 'seeds.bin')));
    if (seedBytes.length !== 2 * SEED_BYTES) throw new MarillError('seeds.bin is damaged', { file: d });
    const used = readJson<{ used: number }>(join(d, 'progress.json'), 'material progress').used;
    const folder = new MaterialFolder(
      d,
      m,
      {
        stream: Uint8Array.from(seedBytes.subarray(0, SEED_BYTES)),
        session: Uint8Array.from(seedBytes.subarray(SEED_BYTES)),
      },
      used,
    );
    if (used >= m.inferences) throw folder.exhausted();
    return folder;
  }

  /** Both parties hold material of the same dealer run (checked at the handshake). */
  get tag(): string {
    return `files:${this.manifest.session}`;
  }

  /** Inferences of material not yet used. */
  get left(): number {
    return this.manifest.inferences - this.used;
  }

  private exhausted(): MarillError {
    return new MarillError(
      `all ${this.manifest.inferences} inference(s) of this dealer material are used; generate more`,
      { file: this.dir },
    );
  }

  /**
   * Reserves inference `index` (chosen by the peer), or the next unused one;
   * records it before returning, so it is never handed out again.
   */
  reserve(index?: number): number {
    const k = index ?? this.used;
    if (!Number.isInteger(k) || k < 0) throw new MarillError(`no inference ${k} in dealer material`);
    if (k < this.used)
      throw new MarillError(
        `inference ${k} of this dealer material is already used (the next unused is ${this.used}): material is never used twice`,
        { file: this.dir },
      );
    if (k >= this.manifest.inferences) throw this.exhausted();
    this.used = k + 1;
    // Record use before any frame is read: material must never serve two inferences.
    onDisk(this.dir, 'record the material used', () =>
      writeFileSync(join(this.dir, 'progress.json'), JSON.stringify({ used: this.used })),
    );
    return k;
  }

  /** Where inference `index` starts in material.bin (frame headers read once, then remembered). */
  offsetOf(index: number): number {
    if (this.offsets.length > index) return this.offsets[index]!;
    const fd = openSync(join(this.dir, 'material.bin'), 'r');
    try {
      const head = Buffer.alloc(4);
      let at = this.offsets[this.offsets.length - 1]!;
      while (this.offsets.length <= index) {
        for (let i = 0; i < this.manifest.opsPerInference; i++) {
          if (readSync(fd, head, 0, 4, at) !== 4)
            throw new MarillError('material.bin ends early', { file: this.dir });
          at += 4 + head.readUInt32LE(0);
        }
        this.offsets.push(at);
      }
    } finally {
      closeSync(fd);
    }
    return this.offsets[index]!;
  }

  /** A feed over this folder for one session (its own descriptor and read-ahead). */
  feed(): MaterialFeed {
    const fd = onDisk(this.dir, 'open material.bin', () => openSync(join(this.dir, 'material.bin'), 'r'));
    const frames = new FramePrefetcher(fd, this.dir);
    let begun = false;
    const ops = this.manifest.opsPerInference;
    return {
      seeds: this.seeds,
      tag: this.tag,
      reserve: (index?: number) => this.reserve(index),
      begin: async (index: number) => {
        if (begun && frames.unread > 0)
          throw new MarillError(`${frames.unread} frames of the previous inference were not used`, {
            file: this.dir,
          });
        if (index >= this.used) throw new MarillError(`inference ${index} of the material was not reserved`);
        begun = true;
        frames.start(ops, this.offsetOf(index));
      },
      next: async () => {
        if (frames.unread === 0)
          throw new MarillError('the plan reads more frames than the material holds per inference', {
            file: this.dir,
          });
        return frames.next();
      },
      close: () => frames.close(),
    };
  }
}

/**
 * A party's feed from its own material directory (DIR/<party>, holding
 * manifest.json). The parent DIR and the other party's directory are refused
 * before anything but a manifest is read.
 */
export function fileFeed(plan: Plan, party: Party, dir: string): MaterialFeed {
  return MaterialFolder.open(plan, party, dir).feed();
}

/** How far the prefetcher reads ahead of the frames taken (bytes). */
const PREFETCH_BYTES = 256 << 20;

/**
 * Reads an inference's frames ahead, on the thread pool (asynchronous reads),
 * while the party computes: a protocol op then finds its material in memory
 * instead of waiting for the disk. At most PREFETCH_BYTES are held ahead.
 */
class FramePrefetcher {
  private readonly ready: Uint8Array[] = [];
  private buffered = 0;
  /** Frames of this inference not yet read from the file / not yet taken. */
  private toRead = 0;
  unread = 0;
  private waiter: { resolve: (f: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private pumping = false;
  private closed = false;

  private offset = 0;

  constructor(
    private readonly fd: number,
    private readonly dir: string,
  ) {}

  /** Reads `frames` frames starting at byte `offset` of material.bin. */
  start(frames: number, offset: number): void {
    this.offset = offset;
    this.toRead = frames;
    this.unread = frames;
    void this.pump();
  }

  next(): Promise<Uint8Array> {
    this.unread--;
    const f = this.ready.shift();
    if (f) {
      this.buffered -= f.byteLength;
      void this.pump();
      return Promise.resolve(f);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  close(): void {
    this.closed = true;
    // A read in flight still uses the descriptor: the pump closes it when it stops.
    if (!this.pumping) closeSync(this.fd);
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (this.toRead > 0 && this.buffered < PREFETCH_BYTES && !this.closed) {
        const len = Buffer.from(await this.read(4)).readUInt32LE(0);
        const frame = await this.read(len);
        this.toRead--;
        const w = this.waiter;
        this.waiter = undefined;
        if (w) w.resolve(frame);
        else {
          this.ready.push(frame);
          this.buffered += len;
        }
      }
    } catch (e) {
      this.failure = e instanceof MarillError ? e : new MarillError(String(e), { file: this.dir });
      this.waiter?.reject(this.failure);
      this.waiter = undefined;
    } finally {
      this.pumping = false;
      if (this.closed) closeSync(this.fd);
    }
  }

  private async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const k = await new Promise<number>((resolve, reject) =>
        read(this.fd, out, got, n - got, this.offset + got, (e, bytes) => (e ? reject(e) : resolve(bytes))),
      );
      if (k === 0) throw new MarillError('material.bin ends early', { file: this.dir });
      got += k;
    }
    this.offset += n;
    return out;
  }
}
