/**
 * The end-to-end cases: every fine-tuned variant of every example family,
 * plus one `--no-marill` standard plan per family, each with the ways of
 * running it spread over the cases so every path is taken somewhere: a live
 * dealer or dealer material written ahead to files; the server loading the
 * fine-tuned ONNX or the server bundle (required when the compiler derived
 * weights, i.e. merged LoRA); the client loading the base model, the client
 * bundle, or nothing (a standard plan has no public weight).
 */
import type { ExampleFamily, ExampleVariant } from '../../examples/manifest.ts';
import { findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import type { DealerMode } from './pipeline.ts';

export interface E2eCase {
  /** e.g. 'gpt2/lora-merged', 'gpt2/standard'. */
  readonly key: string;
  readonly family: ExampleFamily;
  /** The fine-tuned model compiled (and the plaintext oracle's model). */
  readonly variant: ExampleVariant;
  readonly standard: boolean;
  readonly dealer: DealerMode;
  readonly serverModel: 'fine-tuned' | 'bundle';
  readonly clientModel: 'base' | 'bundle' | 'none';
}

/** The fine-tuned styles; 'base' is the public model, not a variant to serve. */
export const FINE_TUNED = ['full', 'frozen', 'lora-merged', 'lora-explicit', 'head-merged'] as const;

function familyCases(family: ExampleFamily, familyIndex: number): E2eCase[] {
  const marill = FINE_TUNED.map((name, i): E2eCase => ({
    key: `${family.name}/${name}`,
    family,
    variant: findVariant(family, name),
    standard: false,
    dealer: (i + familyIndex) % 2 === 0 ? 'live' : 'dir',
    serverModel: name === 'lora-merged' || i % 2 === 1 ? 'bundle' : 'fine-tuned',
    clientModel: i % 2 === 0 ? 'base' : 'bundle',
  }));
  const standard: E2eCase = {
    key: `${family.name}/standard`,
    family,
    variant: findVariant(family, 'full'),
    standard: true,
    dealer: familyIndex % 2 === 0 ? 'dir' : 'live',
    serverModel: 'fine-tuned',
    clientModel: 'none',
  };
  return [...marill, standard];
}

export function e2eCases(): E2eCase[] {
  return loadExamplesManifest().families.flatMap(familyCases);
}
