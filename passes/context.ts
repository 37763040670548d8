/**
 * What every pass receives: the compile options (from the CLI) and a notes
 * sink where passes record facts for the report (why a weight is public, which
 * matmuls were LoRA-split). The sink belongs to one compilation; there is no
 * global state.
 */
import type { Tensor } from '../ir/tensor.ts';
import type { BlockFactors } from './numeric/lowrank.ts';

export type GeluMode = 'exact' | 'tanh' | 'relu' | 'quad';
export type SoftmaxMode = 'exact' | '2quad';

/** The public base model, as far as the passes need it: its initializers by content hash and name. */
export interface BaseModel {
  readonly file: string;
  /** Initializer name -> tensor. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** Content hash (ir/tensor.ts tensorHash) -> initializer name. */
  readonly byHash: ReadonlyMap<string, string>;
}

export interface CompileOptions {
  readonly base?: BaseModel;
  readonly privateGlobs: readonly string[];
  readonly publicGlobs: readonly string[];
  /** Standard baseline: every weight private, nothing hoisted out of MPC. */
  readonly noMarill: boolean;
  readonly gelu: GeluMode;
  readonly softmax: SoftmaxMode;
  /** LoRA split of merged weights: largest rank accepted, and relative tolerance of the low-rank fit. */
  readonly loraMaxRank: number;
  readonly loraTolerance: number;
  /** Ops the user declares as client-side post-processing after the reveal (e.g. softmax, argmax). */
  readonly clientPost: readonly string[];
  /**
   * Memo of lora-split's factorisations for compiles of one model at several shapes
   * (generation steps): the factors depend on the weights only, and the factoriser is
   * seeded, so a repeated factorisation would give the same result. Keyed by the fine
   * weight's content, the base candidate and the orientation.
   */
  readonly factorMemo?: Map<string, BlockFactors | undefined>;
}

export const DEFAULT_OPTIONS: CompileOptions = {
  privateGlobs: [],
  publicGlobs: [],
  noMarill: false,
  gelu: 'exact',
  softmax: 'exact',
  loraMaxRank: 16,
  loraTolerance: 1e-4,
  clientPost: [],
};

export type WeightReason =
  | 'matches-base'
  | 'differs-from-base'
  | 'public-glob'
  | 'private-glob'
  | 'lora-adapter'
  | 'no-base'
  | 'no-marill'
  | 'constant';

export interface WeightNote {
  readonly name: string;
  readonly public: boolean;
  readonly reason: WeightReason;
  /** For matches-base: the base initializer it equals. */
  readonly baseName?: string;
}

export interface LoraNote {
  /** The fine-tuned weight that was split (or the explicit adapter's base weight). */
  readonly weight: string;
  readonly rank: number;
  readonly kind: 'explicit' | 'merged';
  /** For merged: the base weight it was split against, and the relative error of the low-rank fit. */
  readonly base?: string;
  readonly relativeError?: number;
  /**
   * For merged weights split by output-column blocks (a fused QKV weight whose Q and V
   * blocks carry separate adapters, K unchanged): each block [start, end) and its rank
   * (0: unchanged columns). `rank` is then the sum of the block ranks.
   */
  readonly blocks?: readonly { readonly start: number; readonly end: number; readonly rank: number }[];
}

export interface CompileNotes {
  readonly weights: WeightNote[];
  readonly lora: LoraNote[];
  /**
   * What the user should hear about though the compile goes on (an option that
   * matched nothing but leaves a correct plan); the CLI prints them on stderr.
   */
  readonly warnings: string[];
}

export function emptyNotes(): CompileNotes {
  return { weights: [], lora: [], warnings: [] };
}

export interface PassContext {
  readonly options: CompileOptions;
  readonly notes: CompileNotes;
}
