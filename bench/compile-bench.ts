/**
 * Compile-speed benchmark (issue: foundation, item 8). Generates a BERT-base-size
 * model (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522, seq 128; ~440 MB
 * of random weights) outside the repository, then measures in separate processes:
 *   - the floor: read the file and SHA-256 it;
 *   - compile: load + lower + verify + print IR.
 * Targets: compile time <= 3x the floor, peak RSS <= 1.5x the file size.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERT_BASE, generateBertBase } from './gen-bert-base.ts';
import type { TransformerDims } from './models/spec.ts';

interface Measurement {
  mode: string;
  seconds: number;
  peak_rss_bytes: number;
}

function measure(mode: 'floor' | 'compile', file: string, repeats: number): Measurement {
  let best: Measurement | undefined;
  for (let i = 0; i < repeats; i++) {
    const out = execFileSync(process.execPath, ['bin/run-ts.js', 'bench/compile-worker.ts', mode, file], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    const m = JSON.parse(out.trim().split('\n').pop()!) as Measurement;
    if (!best || m.seconds < best.seconds) best = m;
  }
  return best!;
}

export interface CompileBenchResult {
  model: { file: string; bytes: number } & TransformerDims;
  floor: Measurement;
  compile: Measurement;
  time_ratio_vs_floor: number;
  rss_ratio_vs_file: number;
  targets: { time_ratio_max: number; rss_ratio_max: number };
  meets_targets: boolean;
}

export function runCompileBench(): CompileBenchResult {
  const dir = join(tmpdir(), 'marillc-bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'bert-base.onnx');
  if (!existsSync(file)) generateBertBase(file);
  const bytes = statSync(file).size;
  const floor = measure('floor', file, 3);
  const compile = measure('compile', file, 3);
  const timeRatio = compile.seconds / floor.seconds;
  const rssRatio = compile.peak_rss_bytes / bytes;
  const { layers, hidden, heads, ffn, vocab, seq } = BERT_BASE;
  return {
    model: { file, bytes, layers, hidden, heads, ffn, vocab, seq },
    floor,
    compile,
    time_ratio_vs_floor: timeRatio,
    rss_ratio_vs_file: rssRatio,
    targets: { time_ratio_max: 3, rss_ratio_max: 1.5 },
    meets_targets: timeRatio <= 3 && rssRatio <= 1.5,
  };
}
