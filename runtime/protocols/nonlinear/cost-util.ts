/** Cost pieces shared by the composite protocols: merged openings and dealer material. */
import type { Cost } from '../../protocol.ts';
import { cost } from '../../protocol.ts';

/** One round in which each party sends 8 bytes per opened element. */
export function openingCost(elements: number): Cost {
  return cost({ onlineBytes: [8 * elements, 8 * elements], rounds: 1 });
}

/** Dealer material only: [server, client] bytes. */
export function materialCost(bytes: readonly [number, number]): Cost {
  return cost({ offlineBytes: [bytes[0], bytes[1]] });
}
