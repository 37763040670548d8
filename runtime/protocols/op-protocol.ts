/**
 * Op protocols: the protocols the plan executor runs for placed IR nodes. An
 * op protocol derives its static parameters from the node (`NodeSpec`: op,
 * attributes, operand types and visibilities) and then behaves like any
 * `Protocol`, with the executor's operand form (`Operand`: a share, a
 * plaintext this party knows, or nothing) in and this party's view of the
 * results out.
 *
 * `defineOpProtocol` erases the parameter and material types behind `bind`, so
 * the registry can hold protocols of all kinds in one table. Which ops a
 * protocol runs is stated there (./registry.ts), not here.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Visibility } from '../../ir/types.ts';
import type {
  BoundOp,
  Cost,
  DealerStream,
  MaterialStream,
  NodeSpec,
  Operand,
  Party,
  PartyContext,
  RingSettings,
  Share,
} from '../protocol.ts';

export interface OpProtocolSpec<P, M> {
  /** The name plans use in a node's `protocol` field, e.g. 'beaver.weight'. */
  readonly name: string;
  /** One line for reports and docs. */
  readonly doc: string;
  /**
   * Static parameters for a node. Throws a MarillError when this protocol
   * cannot run the node (wrong visibilities or shapes), saying why.
   */
  params(node: NodeSpec, settings: RingSettings): P;
  deal(params: P, dealer: DealerStream): void;
  material(params: P, stream: MaterialStream): M;
  /** Results as this party sees them (MPC results are shares). */
  online(ctx: PartyContext, params: P, material: M, inputs: readonly Operand[]): Promise<Operand[]>;
  cost(params: P): Cost;
}

export interface OpProtocol {
  readonly name: string;
  readonly doc: string;
  /** Binds to a node; throws a MarillError if the protocol cannot run it. */
  bind(node: NodeSpec, settings: RingSettings): BoundOp;
}

export function defineOpProtocol<P, M>(spec: OpProtocolSpec<P, M>): OpProtocol {
  return {
    name: spec.name,
    doc: spec.doc,
    bind(node, settings) {
      const params = spec.params(node, settings);
      return {
        cost: spec.cost(params),
        deal: (dealer) => spec.deal(params, dealer),
        prepare(stream) {
          const material = spec.material(params, stream);
          return (ctx, inputs) => spec.online(ctx, params, material, inputs);
        },
      };
    },
  };
}

// ---- helpers for op protocols -------------------------------------------------------------------

/** Wraps shares as operands. */
export function shareOperands(shares: readonly Share[]): Operand[] {
  return shares.map((share) => ({ kind: 'share', share }));
}

/** The owner of a private visibility; undefined for public and secret. */
export function ownerOf(v: Visibility): Party | undefined {
  return v === 'client' || v === 'server' ? v : undefined;
}

/** A MarillError naming the node. */
export function nodeError(node: NodeSpec, message: string): MarillError {
  return new MarillError(message, { what: `%${node.id} = ${node.op}` });
}
