/**
 * One measurement of the compile-speed benchmark, run in its own process so
 * its peak RSS is its own. Prints one JSON line.
 *   floor   <file>   read the file and SHA-256 its bytes (the floor any compile pays)
 *   compile <file>   load + lower + verify + print IR (what `marillc FILE --emit ir` does),
 *                    with the generated model's dynamic inputs fixed to [1,128]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadModel } from '../compiler/driver.ts';
import { printGraph } from '../ir/print.ts';
import { bertShapes } from './gen-bert-base.ts';

const [mode, file] = process.argv.slice(2);
if (!file || (mode !== 'floor' && mode !== 'compile')) {
  process.stderr.write('usage: compile-worker.ts floor|compile FILE\n');
  process.exit(2);
}
const start = process.hrtime.bigint();
let detail: Record<string, number> = {};
if (mode === 'floor') {
  const bytes = readFileSync(file);
  const digest = createHash('sha256').update(bytes).digest('hex');
  detail = { bytes: bytes.length, digest_prefix: parseInt(digest.slice(0, 8), 16) };
} else {
  const g = loadModel(file, { shapes: bertShapes() });
  const text = printGraph(g);
  detail = { nodes: g.nodes.length, ir_chars: text.length };
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ mode, seconds, peak_rss_bytes: peakRssBytes, ...detail })}\n`);
