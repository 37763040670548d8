/**
 * Loading a plan file as data: plan.ts is parsed with the TypeScript parser,
 * never imported or run. The file must be the statements marillc writes
 * (../emit/plan-layout.ts) around one `spec` literal made only of strings,
 * numbers, booleans, null, arrays and objects; any other statement or
 * expression is refused, naming its line. The literal then goes to the
 * runtime's `definePlan`, which refuses a spec without a hash, one whose
 * content no longer matches its hash, a malformed graph, and a graph that
 * breaks the information-flow rules (naming the op). So every party checks
 * the plan before it opens any connection, and no code from the plan runs.
 */
import ts from 'typescript';
import { MarillError } from '../../ir/errors.ts';
import type { Plan } from '../../runtime/plan.ts';
import { definePlan } from '../../runtime/plan.ts';
import { PLAN_EPILOGUE, PLAN_PROLOGUE, SPEC_NAME, SPEC_TYPE, sameStatement } from '../emit/plan-layout.ts';
import { readFileOrFail } from '../fs-util.ts';

const REGENERATE = 'a plan is read as data and holds only what marillc writes (recompile it with marillc -o)';

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

function refuse(sf: ts.SourceFile, node: ts.Node, problem: string): never {
  throw new MarillError(`${problem}: ${REGENERATE}`, { file: sf.fileName, line: lineOf(sf, node) });
}

function propertyName(sf: ts.SourceFile, p: ts.ObjectLiteralElementLike): string {
  if (!ts.isPropertyAssignment(p)) refuse(sf, p, 'the spec holds something other than `key: value`');
  const name = p.name;
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  return refuse(sf, p, 'the spec holds a computed key');
}

/** The JSON value a literal expression denotes; anything that would compute is refused. */
function literalValue(sf: ts.SourceFile, e: ts.Expression): unknown {
  if (ts.isStringLiteral(e)) return e.text;
  if (ts.isNumericLiteral(e)) return Number(e.text);
  if (
    ts.isPrefixUnaryExpression(e) &&
    e.operator === ts.SyntaxKind.MinusToken &&
    ts.isNumericLiteral(e.operand)
  )
    return -Number(e.operand.text);
  if (e.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (e.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (e.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isArrayLiteralExpression(e))
    return e.elements.map((x) =>
      ts.isSpreadElement(x) || ts.isOmittedExpression(x)
        ? refuse(sf, x, 'the spec holds a spread or a hole in a list')
        : literalValue(sf, x),
    );
  if (ts.isObjectLiteralExpression(e)) {
    const entries = e.properties.map((p): [string, unknown] => {
      const key = propertyName(sf, p);
      return [key, literalValue(sf, (p as ts.PropertyAssignment).initializer)];
    });
    const keys = new Set(entries.map(([k]) => k));
    if (keys.size !== entries.length) refuse(sf, e, 'the spec states one key twice in an object');
    // fromEntries defines own properties (a "__proto__" key stays data).
    return Object.fromEntries(entries);
  }
  return refuse(sf, e, `the spec holds an expression (${ts.SyntaxKind[e.kind]}), not a literal`);
}

/** The literal of `const spec: PlanSpec = { ... };`, or undefined if the statement is not that. */
function specInitializer(stmt: ts.Statement): ts.Expression | undefined {
  if (!ts.isVariableStatement(stmt) || stmt.modifiers?.length) return undefined;
  const list = stmt.declarationList;
  if (!(list.flags & ts.NodeFlags.Const) || list.declarations.length !== 1) return undefined;
  const d = list.declarations[0]!;
  if (!ts.isIdentifier(d.name) || d.name.text !== SPEC_NAME) return undefined;
  if (!d.type || !ts.isTypeReferenceNode(d.type) || d.type.getText() !== SPEC_TYPE) return undefined;
  return d.initializer;
}

/**
 * The spec literal of a plan file's text, read without running anything; a
 * statement marillc does not write, or a spec that is not pure data, is
 * refused with its line.
 */
export function readPlanSpec(text: string, file: string): unknown {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const statements = [...sf.statements];
  const expected = [...PLAN_PROLOGUE, SPEC_NAME, ...PLAN_EPILOGUE];
  let spec: unknown;
  statements.forEach((stmt, i) => {
    const want = expected[i];
    if (want === undefined) refuse(sf, stmt, 'a statement after the plan');
    if (want === SPEC_NAME) {
      const init = specInitializer(stmt);
      if (!init) refuse(sf, stmt, `expected \`const ${SPEC_NAME}: ${SPEC_TYPE} = { ... }\``);
      spec = literalValue(sf, init);
    } else if (!sameStatement(stmt.getText(sf), want)) {
      refuse(sf, stmt, `expected \`${want}\``);
    }
  });
  if (statements.length < expected.length) {
    const missing = expected[statements.length]!;
    throw new MarillError(
      `the plan ends before \`${missing === SPEC_NAME ? `const ${SPEC_NAME}` : missing}\`: ${REGENERATE}`,
      { file },
    );
  }
  return spec;
}

/**
 * A checked plan from a plan file (see the module comment); every error names
 * the file. Synchronous: nothing is imported.
 */
export function loadPlanModule(path: string): Plan {
  const text = readFileOrFail(path).toString('utf8');
  try {
    return definePlan(readPlanSpec(text, path) as Parameters<typeof definePlan>[0]);
  } catch (e) {
    if (e instanceof MarillError) throw e.inFile(path);
    throw e;
  }
}
