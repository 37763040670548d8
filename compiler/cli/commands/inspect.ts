/** `marillc inspect PLAN [--json]`: the plan read as data, checked, and described (../../emit/inspect.ts). */
import {
  formatGenerationInspection,
  formatInspection,
  inspectGenerationPlan,
  inspectPlan,
} from '../../emit/inspect.ts';
import { loadAnyPlanModule } from '../../party/plan-module.ts';
import { emit } from './common.ts';

export interface InspectFlags {
  json?: boolean;
}

export function inspectCommand(planFile: string, flags: InspectFlags): void {
  const loaded = loadAnyPlanModule(planFile);
  if (loaded.kind === 'generation') {
    const report = inspectGenerationPlan(loaded.plan);
    emit(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatGenerationInspection(report), undefined);
    return;
  }
  const report = inspectPlan(loaded.plan);
  emit(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspection(report), undefined);
}
