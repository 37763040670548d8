// The stage table (compiler/stages.ts) against the pass pipeline the driver runs
// (passes/pipeline.ts with protocol selection): every pass in exactly one stage, in order.
import { describe, expect, it } from 'vitest';
import type { Pass } from '../passes/manager.ts';
import { PIPELINE } from '../passes/pipeline.ts';
import { parseNetwork } from './backend/network.ts';
import { pipelineFor, stagesOf } from './driver.ts';
import { STAGES, STAGE_NAMES, completesPipeline } from './stages.ts';

const TARGET = { network: parseNetwork('lan'), fracBits: 16 };

describe('the stage table', () => {
  it('names every pass of the full pipeline once, in pipeline order', () => {
    const names = pipelineFor(TARGET).map((p) => p.name);
    expect(STAGES.flatMap((s) => s.passes)).toEqual(names);
    expect(names).toContain('select-protocols');
  });

  it('puts each pass in a stage, stages never going back', () => {
    for (const passes of [PIPELINE, pipelineFor(TARGET)]) {
      const stages = stagesOf(passes).map((p) => p.stage);
      expect(stages).toEqual([...stages].sort((a, b) => a - b));
    }
    const byName = (name: string) => stagesOf(pipelineFor(TARGET)).filter((p) => p.pass.name === name);
    expect(byName('cleanup').map((p) => STAGES[p.stage]!.name)).toEqual(['cleaned', 'fused']);
    expect(byName('place').map((p) => STAGES[p.stage]!.name)).toEqual(['placed']);
  });

  it('refuses a pipeline with a pass no stage names, or passes out of order', () => {
    const stray: Pass = { name: 'stray', summary: '', run: (g) => g };
    expect(() => stagesOf([...PIPELINE.slice(0, 2), stray, ...PIPELINE.slice(2)])).toThrow(
      /pass 'stray' is in no stage/,
    );
    expect(() => stagesOf([...PIPELINE].reverse())).toThrow(/out of its order/);
  });

  it('has unique names; only the stages from verified on complete the pipeline', () => {
    expect(new Set(STAGE_NAMES).size).toBe(STAGE_NAMES.length);
    const complete = STAGE_NAMES.filter(completesPipeline);
    expect(complete).toEqual(['verified', 'ir', 'cost', 'dot', 'plan', 'summary']);
  });
});
