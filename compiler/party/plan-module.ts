/**
 * Loading a plan file as data: plan.ts is read by a strict reader, never
 * imported or run. The file must be the statements marillc writes
 * (../emit/plan-layout.ts) around one `spec` literal made only of strings,
 * numbers, booleans, null, lists and objects (comments, white space, either
 * quote mark and trailing commas allowed, so a reformatted plan still reads);
 * any other statement, token or expression is refused, naming its line. The
 * literal then goes to the runtime's `definePlan`, which refuses a spec
 * without a hash, one whose content no longer matches its hash, a malformed
 * graph, and a graph that breaks the information-flow rules (naming the op).
 * So every party checks the plan before it opens any connection, and no code
 * from the plan runs.
 *
 * The reader is a small tokenizer and a recursive reader of the literal
 * grammar, not the TypeScript parser: a party starts without loading a
 * compiler, and what is accepted is exactly this grammar.
 */
import { MarillError } from '../../ir/errors.ts';
import type { GenerationPlan, GenerationPlanSpec } from '../../runtime/generate/plan.ts';
import { defineGenerationPlan } from '../../runtime/generate/plan.ts';
import type { Plan } from '../../runtime/plan.ts';
import { definePlan } from '../../runtime/plan.ts';
import {
  GENERATION_EPILOGUE,
  GENERATION_PROLOGUE,
  GENERATION_SPEC_TYPE,
  PLAN_EPILOGUE,
  PLAN_PROLOGUE,
  SPEC_NAME,
  SPEC_TYPE,
} from '../emit/plan-layout.ts';
import { readFileOrFail } from '../fs-util.ts';

const REGENERATE = 'a plan is read as data and holds only what marillc writes (recompile it with marillc -o)';

type TokenKind = 'punct' | 'word' | 'string' | 'number';

interface Token {
  readonly kind: TokenKind;
  /** The punctuation or word itself, the string's value, or the number's text. */
  readonly text: string;
  readonly line: number;
}

const PUNCT = new Set(['{', '}', '[', ']', '(', ')', ',', ':', ';', '=', '-']);
const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const NUMBER = /(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', 0: '\0' };

class Reader {
  private pos = 0;
  private line = 1;
  readonly tokens: Token[] = [];

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  refuse(line: number, problem: string): never {
    throw new MarillError(`${problem}: ${REGENERATE}`, { file: this.file, line });
  }

  tokenize(): Token[] {
    const s = this.text;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '\n') {
        this.line++;
        this.pos++;
      } else if (/\s/.test(c)) this.pos++;
      else if (s.startsWith('//', this.pos)) {
        const end = s.indexOf('\n', this.pos);
        this.pos = end < 0 ? s.length : end;
      } else if (s.startsWith('/*', this.pos)) {
        const end = s.indexOf('*/', this.pos + 2);
        if (end < 0) this.refuse(this.line, 'a comment that does not end');
        this.line += s.slice(this.pos, end).split('\n').length - 1;
        this.pos = end + 2;
      } else if (c === '"' || c === "'") this.push('string', this.string(c));
      else if (PUNCT.has(c)) {
        this.push('punct', c);
        this.pos++;
      } else if (this.sticky(WORD, 'word')) continue;
      else if (this.sticky(NUMBER, 'number')) continue;
      else this.refuse(this.line, `unexpected character ${JSON.stringify(c)}`);
    }
    return this.tokens;
  }

  private push(kind: TokenKind, text: string): void {
    this.tokens.push({ kind, text, line: this.line });
  }

  private sticky(re: RegExp, kind: TokenKind): boolean {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) return false;
    this.pos += m[0].length;
    // `1abc` or `12.x`: a number glued to a word is not a literal.
    if (kind === 'number' && /[A-Za-z0-9_$.]/.test(this.text[this.pos] ?? ''))
      this.refuse(this.line, `a malformed number near ${JSON.stringify(m[0])}`);
    this.push(kind, m[0]);
    return true;
  }

  /** A quoted string's value (JSON escapes plus \' and \v, \0). */
  private string(quote: string): string {
    const s = this.text;
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      const c = s[i];
      if (c === undefined || c === '\n') this.refuse(this.line, 'a string that does not end on its line');
      if (c === quote) break;
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = s[i + 1] ?? '';
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
        i += 6;
      } else if (e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
      } else if (e === '"' || e === "'" || e === '\\' || e === '/') {
        out += e;
        i += 2;
      } else this.refuse(this.line, `an unknown escape \\${e} in a string`);
    }
    this.pos = i + 1;
    return out;
  }
}

/** Reads tokens as the plan file's grammar; every refusal names the line. */
class SpecParser {
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly reader: Reader,
    private readonly lastLine: number,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private refuse(t: Token | undefined, problem: string): never {
    return this.reader.refuse(t?.line ?? this.lastLine, problem);
  }

  private isPunct(t: Token | undefined, p: string): boolean {
    return t?.kind === 'punct' && t.text === p;
  }

  /** One fixed statement, token by token (strings by value, so either quote mark; `;` optional). */
  statement(source: string): void {
    const want = new Reader(source, '').tokenize();
    const start = this.peek();
    for (const w of want) {
      const t = this.peek();
      if (w.kind === 'punct' && w.text === ';') {
        if (this.isPunct(t, ';')) this.i++;
        continue;
      }
      if (!t || t.kind !== w.kind || t.text !== w.text) this.refuse(t ?? start, `expected \`${source}\``);
      this.i++;
    }
  }

  /** Whether the file starts as a generation plan does (`import { defineGenerationPlan } ...`). */
  startsWith(source: string): boolean {
    const want = new Reader(source, '').tokenize().slice(0, 3);
    return want.every((w, k) => this.tokens[k]?.kind === w.kind && this.tokens[k]?.text === w.text);
  }

  /** `const spec: TYPE = <literal>;` */
  spec(type: string = SPEC_TYPE): unknown {
    this.statement(`const ${SPEC_NAME}: ${type} =`);
    const value = this.value();
    if (this.isPunct(this.peek(), ';')) this.i++;
    return value;
  }

  end(): void {
    const t = this.peek();
    if (t) this.refuse(t, 'a statement after the plan');
  }

  private value(): unknown {
    const t = this.peek();
    if (!t) return this.refuse(t, 'the plan ends inside the spec');
    if (t.kind === 'string') {
      this.i++;
      return t.text;
    }
    if (t.kind === 'number') {
      this.i++;
      return Number(t.text);
    }
    if (this.isPunct(t, '-') && this.tokens[this.i + 1]?.kind === 'number') {
      this.i += 2;
      return -Number(this.tokens[this.i - 1]!.text);
    }
    if (t.kind === 'word' && (t.text === 'true' || t.text === 'false' || t.text === 'null')) {
      this.i++;
      return t.text === 'null' ? null : t.text === 'true';
    }
    if (this.isPunct(t, '[')) return this.list();
    if (this.isPunct(t, '{')) return this.object();
    return this.refuse(t, `the spec holds \`${t.text}\`, not a literal`);
  }

  /** Items up to `close`, separated by commas, a trailing comma allowed. */
  private items<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    this.i++;
    while (!this.isPunct(this.peek(), close)) {
      out.push(item());
      const t = this.peek();
      if (this.isPunct(t, ',')) this.i++;
      else if (!this.isPunct(t, close)) this.refuse(t, `expected ',' or '${close}' in the spec`);
    }
    this.i++;
    return out;
  }

  private list(): unknown[] {
    return this.items(']', () => this.value());
  }

  private object(): Record<string, unknown> {
    const open = this.peek();
    const entries = this.items('}', (): [string, unknown] => {
      const key = this.peek();
      if (!key || (key.kind !== 'string' && key.kind !== 'word'))
        this.refuse(key, 'expected a key in the spec');
      this.i++;
      if (!this.isPunct(this.peek(), ':')) this.refuse(this.peek(), 'expected `key: value` in the spec');
      this.i++;
      return [key.text, this.value()];
    });
    if (new Set(entries.map(([k]) => k)).size !== entries.length)
      this.refuse(open, 'the spec states one key twice in an object');
    // fromEntries defines own properties (a "__proto__" key stays data).
    return Object.fromEntries(entries);
  }
}

/**
 * The spec literal of a plan file's text, read without running anything; a
 * statement marillc does not write, or a spec that is not pure data, is
 * refused with its line.
 */
export function readPlanSpec(text: string, file: string): unknown {
  return readAnyPlanSpec(text, file).spec;
}

/** What a plan file states: a plan's spec or a generation plan's (by its first statement), read as data. */
export function readAnyPlanSpec(text: string, file: string): { kind: 'plan' | 'generation'; spec: unknown } {
  const reader = new Reader(text, file);
  const parser = new SpecParser(reader.tokenize(), reader, text.split('\n').length);
  const generation = parser.startsWith(GENERATION_PROLOGUE[0]!);
  const [prologue, type, epilogue] = generation
    ? [GENERATION_PROLOGUE, GENERATION_SPEC_TYPE, GENERATION_EPILOGUE]
    : [PLAN_PROLOGUE, SPEC_TYPE, PLAN_EPILOGUE];
  for (const s of prologue) parser.statement(s);
  const spec = parser.spec(type);
  for (const s of epilogue) parser.statement(s);
  parser.end();
  return { kind: generation ? 'generation' : 'plan', spec };
}

/** A checked plan file: a single-pass plan or a generation plan (docs/generation.md). */
export type LoadedPlan =
  | { readonly kind: 'plan'; readonly plan: Plan }
  | { readonly kind: 'generation'; readonly plan: GenerationPlan };

/**
 * A checked plan or generation plan from a plan file, read as data as
 * loadPlanModule reads a plan; every error names the file.
 */
export function loadAnyPlanModule(path: string): LoadedPlan {
  const text = readFileOrFail(path).toString('utf8');
  try {
    const { kind, spec } = readAnyPlanSpec(text, path);
    return kind === 'generation'
      ? { kind, plan: defineGenerationPlan(spec as GenerationPlanSpec) }
      : { kind, plan: definePlan(spec as Parameters<typeof definePlan>[0]) };
  } catch (e) {
    if (e instanceof MarillError) throw e.inFile(path);
    throw e;
  }
}

/**
 * A checked plan from a plan file (see the module comment); every error names
 * the file. Synchronous: nothing is imported.
 */
export function loadPlanModule(path: string): Plan {
  const loaded = loadAnyPlanModule(path);
  if (loaded.kind === 'generation')
    throw new MarillError(
      'this is a generation plan (a plan per step shape, docs/generation.md); this command runs a single-pass plan',
      { file: path },
    );
  return loaded.plan;
}
