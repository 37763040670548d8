/**
 * External-data initializers (`data_location = EXTERNAL`): the bytes live in
 * another file named by the `location` key, relative to the model file, at
 * `offset` (default 0) for `length` bytes (default: the tensor's size).
 * Models over 2 GB are always stored this way (protobuf's message limit).
 *
 * Each tensor's bytes are read straight into a fresh, aligned buffer, so an
 * external weight costs its own size once and the data file is never held
 * whole in memory.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { MarillError } from '../../ir/errors.ts';
import type { ExternalReader } from './tensor-proto.ts';

export interface ExternalDataFiles {
  readonly read: ExternalReader;
  /** Closes the files opened so far. */
  close(): void;
}

interface OpenFile {
  readonly fd: number;
  readonly size: number;
}

/** A reader that resolves `location` against the directory of `modelFile`. */
export function openExternalData(modelFile: string): ExternalDataFiles {
  const baseDir = dirname(modelFile);
  const open = new Map<string, OpenFile>();

  const fileFor = (tensorName: string, location: string): OpenFile => {
    const cached = open.get(location);
    if (cached) return cached;
    const path = resolveLocation(baseDir, location, modelFile, tensorName);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new MarillError(
        `external data file '${location}' of tensor '${tensorName}' cannot be read (${code === 'ENOENT' ? 'no such file' : String(e)})`,
        { file: modelFile },
      );
    }
    const f = { fd, size: fstatSync(fd).size };
    open.set(location, f);
    return f;
  };

  const read: ExternalReader = (tensorName, entries, byteLength) => {
    const location = entries.get('location');
    if (!location)
      throw new MarillError(`tensor '${tensorName}' is external but has no 'location'`, { file: modelFile });
    const offset = parseByteCount(entries.get('offset') ?? '0', 'offset', tensorName, modelFile);
    const length = parseByteCount(
      entries.get('length') ?? String(byteLength),
      'length',
      tensorName,
      modelFile,
    );
    if (length !== byteLength)
      throw new MarillError(
        `external tensor '${tensorName}' has length ${length}; its type and shape need ${byteLength} bytes`,
        {
          file: modelFile,
        },
      );
    const f = fileFor(tensorName, location);
    if (offset + length > f.size)
      throw new MarillError(
        `external tensor '${tensorName}' (offset ${offset}, length ${length}) extends past the end of '${location}' (${f.size} bytes)`,
        { file: modelFile },
      );
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const got = readSync(f.fd, out, done, length - done, offset + done);
      if (got === 0) break;
      done += got;
    }
    return out;
  };

  return {
    read,
    close: () => {
      for (const f of open.values()) closeSync(f.fd);
      open.clear();
    },
  };
}

/** The ONNX checker's rule: locations are relative and stay inside the model's directory. */
function resolveLocation(baseDir: string, location: string, modelFile: string, tensorName: string): string {
  const rel = normalize(location);
  if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`))
    throw new MarillError(
      `external data location '${location}' of tensor '${tensorName}' must be a path inside the model's directory`,
      { file: modelFile },
    );
  return join(baseDir, rel);
}

function parseByteCount(text: string, key: string, tensorName: string, modelFile: string): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 0)
    throw new MarillError(`external tensor '${tensorName}' has a bad '${key}' (${JSON.stringify(text)})`, {
      file: modelFile,
    });
  return v;
}
