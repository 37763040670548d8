/**
 * The lowering table: ONNX op type (default domain) -> rule, merged from the
 * per-kind tables.
 */
import type { LoweringRule, RuleTable } from './common.ts';
import { CONSTANT_RULES } from './constants.ts';
import { ELEMENTWISE_RULES } from './elementwise.ts';
import { LINALG_RULES } from './linalg.ts';
import { MOVEMENT_RULES } from './movement.ts';
import { REDUCE_RULES } from './reduce.ts';

const TABLES: readonly RuleTable[] = [
  ELEMENTWISE_RULES,
  LINALG_RULES,
  REDUCE_RULES,
  MOVEMENT_RULES,
  CONSTANT_RULES,
];

const RULES: ReadonlyMap<string, LoweringRule> = new Map(TABLES.flatMap((t) => Object.entries(t)));

export function loweringRule(opType: string): LoweringRule | undefined {
  return RULES.get(opType);
}
