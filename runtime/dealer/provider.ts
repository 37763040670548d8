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
import type { Plan } from '../plan.ts';
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

/** The provider the flags name (exactly one of --dealer / --dealer-dir). */
export function materialProvider(
  plan: Plan | GenerationPlan,
  party: Party,
  flags: MaterialFlags,
  connectOpts: ConnectOptions,
): MaterialProvider {
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
  if (flags.dealer !== undefined)
    await probeDealer(plan, party, parseEndpoint(flags.dealer, '--dealer'), connectOpts);
}
