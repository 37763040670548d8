/**
 * The runtime's public entry: what generated plan.ts modules and the CLI
 * import. See runtime/README.md ("Plan API").
 */
export type {
  MakePlanOptions,
  Plan,
  PlanNodeSpec,
  PlanSpec,
  PlanValueSpec,
  UnhashedPlanSpec,
} from './plan.ts';
export {
  PLAN_FORMAT,
  definePlan,
  freshWeightKey,
  graphSpec,
  keyedWeightHash,
  makePlan,
  planSpec,
  specHash,
  weightsDigest,
  withWeightKey,
} from './plan.ts';
export { bindPlan, planCosts } from './bound-plan.ts';
export type { WeightSource } from './executor.ts';
export { CheckedWeights, PartyExecutor } from './executor.ts';
export type { PartyResult, RunPartyOptions } from './party.ts';
export { runParty } from './party.ts';
export type { SimulateResult } from './session.ts';
export { PartySession, simulatePlan } from './session.ts';
export type { DealerOptions, DealerSessionSummary, DealerSummary } from './dealer/live.ts';
export { DealerService, runDealer } from './dealer/live.ts';
export type { MaterialManifest } from './dealer/files.ts';
export { MaterialFolder, writeDealerMaterial } from './dealer/files.ts';
export type { MaterialProvider } from './dealer/provider.ts';
export { materialProvider } from './dealer/provider.ts';
export type { InferenceMeasure, SetupMeasure } from './serve/sessions.ts';
export { ClientSession, serveSession } from './serve/sessions.ts';
export type { ServerOptions, ServerSummary } from './serve/server.ts';
export { PartyServer } from './serve/server.ts';
export type { GenerationSetup, StepMeasure, StepSchedule } from './generate/session.ts';
export { GenerationParty, GenerationWeights, scheduleOf } from './generate/session.ts';
export type { GenerationResult, SimulatedGenerationReport } from './generate/simulate.ts';
export { SimulatedGeneration, simulateGeneration } from './generate/simulate.ts';
export type { ClientGenerationResult } from './generate/served.ts';
export { ClientGeneration, generateOver, serveGeneration } from './generate/served.ts';
export type { SessionLogEntry } from './serve/log.ts';
export { formatLogLine } from './serve/log.ts';
export type { OpReport, OpStats, RunReport } from './mpc/accounting.ts';
export { combineReports, roundMismatches } from './mpc/accounting.ts';
export type { Endpoint, LinkOptions, TlsFiles } from './net/tcp.ts';
export type { Role } from './net/identity.ts';
export { certificateFilesIn } from './net/identity.ts';
export { parseEndpoint } from './net/tcp.ts';
export type { Cost, Party } from './protocol.ts';
export { allProtocols, protocolByName, protocolsFor } from './protocols/registry.ts';
export { DEFAULT_FRAC_BITS } from './ring/fixed.ts';
