/**
 * The fixed statements of a generated plan.ts, shared by the writer
 * (./codegen.ts) and the reader (../party/plan-module.ts): a plan file is
 * these statements around one `spec` literal, and the reader refuses any
 * other statement, so a plan is always read as data and never run.
 *
 * The runtime is imported by the package name (package.json `exports`), so a
 * plan copied anywhere marillc is installed type-checks there.
 */

/** Where a plan imports the runtime's plan API from. */
export const PLAN_MODULE = 'marillc/plan';

/** The variable holding the spec literal, and its declared type. */
export const SPEC_NAME = 'spec';
export const SPEC_TYPE = 'PlanSpec';

/** Statements before the spec, in order. */
export const PLAN_PROLOGUE: readonly string[] = [
  `import { definePlan } from '${PLAN_MODULE}';`,
  `import type { Plan, PlanSpec } from '${PLAN_MODULE}';`,
];

/** Statements after the spec, in order: importing the module gives the checked plan. */
export const PLAN_EPILOGUE: readonly string[] = [
  `export const plan: Plan = definePlan(${SPEC_NAME});`,
  'export default plan;',
];

/**
 * A generation plan (docs/generation.md) is written the same way around one
 * `spec` literal; its API comes from its own entry point of the package.
 */
export const GENERATION_PLAN_MODULE = 'marillc/generation-plan';
export const GENERATION_SPEC_TYPE = 'GenerationPlanSpec';

export const GENERATION_PROLOGUE: readonly string[] = [
  `import { defineGenerationPlan } from '${GENERATION_PLAN_MODULE}';`,
  `import type { GenerationPlan, GenerationPlanSpec } from '${GENERATION_PLAN_MODULE}';`,
];

export const GENERATION_EPILOGUE: readonly string[] = [
  `export const plan: GenerationPlan = defineGenerationPlan(${SPEC_NAME});`,
  'export default plan;',
];
