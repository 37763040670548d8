/**
 * The one error class of marillc. Every user-facing failure (bad file, bad node,
 * bad tensor, bad text IR, bad peer) is a MarillError carrying where it happened,
 * so the CLI can print a single line `marillc: error: <where>: <what>`.
 */
export interface Location {
  /** File the problem is in (model, .mir, input JSON, plan). */
  file?: string;
  /** 1-based line and column, for text inputs (.mir). */
  line?: number;
  column?: number;
  /** What inside the file: an ONNX node, op, tensor, input or peer. */
  what?: string;
}

export class MarillError extends Error {
  readonly location: Location;

  constructor(message: string, location: Location = {}) {
    super(message);
    this.name = 'MarillError';
    this.location = location;
  }

  /** `file:line:col: what: message`, leaving out the parts that are unknown. */
  format(): string {
    const { file, line, column, what } = this.location;
    const parts: string[] = [];
    if (file !== undefined) {
      parts.push(line !== undefined ? `${file}:${line}:${column ?? 1}` : file);
    } else if (line !== undefined) {
      parts.push(`${line}:${column ?? 1}`);
    }
    if (what !== undefined) parts.push(what);
    parts.push(this.message);
    return parts.join(': ');
  }

  /** The same error with a file name filled in (errors raised below the file level). */
  inFile(file: string): MarillError {
    if (this.location.file !== undefined) return this;
    const e = new MarillError(this.message, { ...this.location, file });
    e.stack = this.stack;
    return e;
  }
}
