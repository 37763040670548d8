/**
 * The compiler's pass pipeline, in order. `--dump-after NAME|all` prints the IR
 * after any of them; `cleanup` runs twice (the second merges the per-layer
 * copies of constants that fusion creates). Each pass belongs to one stage of
 * compiler/stages.ts (what `--emit STAGE` stops after): a pass added here is
 * named there too, or the driver refuses the pipeline.
 */
import { approximatePass } from './approximate.ts';
import { cleanupPass } from './cleanup.ts';
import { dcePass } from './dce.ts';
import { fusePass } from './fuse.ts';
import { loraSplitPass } from './lora-split.ts';
import type { Pass } from './manager.ts';
import { placePass } from './place.ts';
import { provenancePass } from './provenance.ts';
import { relocatePass } from './relocate.ts';
import { verifyFlowPass } from './verify-flow.ts';

/**
 * --no-marill is the standard baseline: nothing is hoisted out of MPC (docs/architecture.md), so
 * relocation onto the client is skipped. (lora-split checks the flag itself.)
 */
function unlessNoMarill(pass: Pass): Pass {
  return { ...pass, run: (g, ctx) => (ctx.options.noMarill ? g : pass.run(g, ctx)) };
}

/**
 * The pipeline with `beforeVerify` passes (the compiler's protocol selection)
 * inserted just before the information-flow verification, which stays last.
 */
export function pipelineWith(beforeVerify: readonly Pass[]): readonly Pass[] {
  return [...PIPELINE.slice(0, -1), ...beforeVerify, verifyFlowPass];
}

export const PIPELINE: readonly Pass[] = [
  cleanupPass, // fold constants, CSE, DCE
  fusePass, // erf/tanh GeLU, LayerNorm, RMSNorm, SiLU, masked softmax
  cleanupPass,
  approximatePass, // --gelu / --softmax (MPCFormer), opt-in
  provenancePass, // which weights are public
  loraSplitPass, // x@W' = x@W_base + (x@B)@A
  placePass, // visibility, share/reveal, placement
  unlessNoMarill(relocatePass), // post-processing after the reveal, on the client
  dcePass,
  verifyFlowPass, // always last
];
