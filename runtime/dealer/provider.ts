/**
 * Where a party's sessions get their dealer material: a live dealer (one
 * connection per session, paired with the peer's by the session id both
 * derived at the handshake) or a material folder written ahead (opened once;
 * every session's feed reserves inferences from it, so none is used twice).
 */
import { MarillError } from '../../ir/errors.ts';
import type { ConnectOptions } from '../net/tcp.ts';
import { parseEndpoint } from '../net/tcp.ts';
import type { Announced } from '../generate/announce.ts';
import type { GenerationPlan } from '../generate/plan.ts';
import { isGenerationPlan } from '../generate/plan.ts';
import { bindPlan } from '../bound-plan.ts';
import { scheduleOf, scheduleOps } from '../generate/session.ts';
import type { Plan, Setting } from '../plan.ts';
import { DEFAULT_SETTING } from '../plan.ts';
import { DEALER_FREE_TAG, DealerFreeFeed } from '../twopc/feed.ts';
import type { Party } from '../protocol.ts';
import type { MaterialFeed } from './feeds.ts';
import { MaterialFolder } from './files.ts';
import { liveDealerFeed, probeDealer } from './live.ts';

export interface MaterialProvider {
  /** Announced in the hello (both parties must use the same kind and the same folder). */
  readonly tag: string;
  /**
   * The feed of one session (`session`: the id from runtime/net/handshake.ts
   * dealerSessionId; `announced`: a generation session's schedule).
   */
  open(session: string, announced?: Announced): Promise<MaterialFeed>;
}

export interface MaterialFlags {
  /** A live dealer "HOST:PORT". */
  readonly dealer?: string;
  /** A material folder written ahead. */
  readonly dealerDir?: string;
}

/** The setting a plan was compiled for (a generation plan's steps share their plan's). */
export function settingOf(plan: Plan | GenerationPlan): Setting {
  if (!isGenerationPlan(plan)) return plan.setting;
  const first = plan.steps.values().next();
  return first.done ? DEFAULT_SETTING : first.value.setting;
}

/**
 * The dealer-free provider: each session's feed makes its material with the
 * peer (a generation session's once its schedule is announced).
 */
function dealerFreeProvider(plan: Plan | GenerationPlan, party: Party): MaterialProvider {
  return {
    tag: DEALER_FREE_TAG,
    open: async (_session, announced) => {
      if (!isGenerationPlan(plan)) {
        const ops = bindPlan(plan);
        return new DealerFreeFeed(party, () => ops);
      }
      if (!announced) throw new MarillError('a generation session needs its schedule before its material');
      return new DealerFreeFeed(party, scheduleOps(scheduleOf(plan, announced.prompt, announced.steps)));
    },
  };
}

/**
 * The provider of a plan: without a dealer for a plan of setting '2pc' (no
 * dealer flag accepted), else the one the flags name (exactly one of
 * --dealer / --dealer-dir).
 */
export function materialProvider(
  plan: Plan | GenerationPlan,
  party: Party,
  flags: MaterialFlags,
  connectOpts: ConnectOptions,
): MaterialProvider {
  if (settingOf(plan) === '2pc') {
    if (flags.dealer !== undefined || flags.dealerDir !== undefined)
      throw new MarillError(
        `plan '${plan.name}' is compiled for setting 2pc: it runs without a dealer (drop --dealer / --dealer-dir)`,
      );
    return dealerFreeProvider(plan, party);
  }
  if ((flags.dealer === undefined) === (flags.dealerDir === undefined))
    throw new MarillError('give exactly one of --dealer or --dealer-dir for the dealer material');
  if (flags.dealerDir !== undefined) {
    // Each step of a generation has its own plan and material; folders hold one plan's inferences.
    if (isGenerationPlan(plan))
      throw new MarillError(
        'material folders (--dealer-dir) hold one plan; a generation plan needs a live dealer (--dealer HOST:PORT)',
      );
    const folder = MaterialFolder.open(plan, party, flags.dealerDir);
    return { tag: folder.tag, open: async () => folder.feed() };
  }
  const at = parseEndpoint(flags.dealer!, '--dealer');
  return {
    tag: 'live',
    open: (session, announced) => liveDealerFeed(plan, party, at, session, connectOpts, announced),
  };
}

/** Checks a live dealer at start (reachable, same plan); nothing to check for a folder. */
export async function checkMaterial(
  plan: Plan | GenerationPlan,
  party: Party,
  flags: MaterialFlags,
  connectOpts: ConnectOptions,
): Promise<void> {
  if (settingOf(plan) !== '2pc' && flags.dealer !== undefined)
    await probeDealer(plan, party, parseEndpoint(flags.dealer, '--dealer'), connectOpts);
}
