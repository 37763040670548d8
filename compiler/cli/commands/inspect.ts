/** `marillc inspect PLAN [--json]`: the plan read as data, checked, and described (../../emit/inspect.ts). */
import { formatInspection, inspectPlan } from '../../emit/inspect.ts';
import { loadPlanModule } from '../../party/plan-module.ts';
import { emit } from './common.ts';

export interface InspectFlags {
  json?: boolean;
}

export function inspectCommand(planFile: string, flags: InspectFlags): void {
  const report = inspectPlan(loadPlanModule(planFile));
  emit(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspection(report), undefined);
}
