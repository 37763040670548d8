/**
 * Progress of a long run on a terminal: one line on stderr, rewritten in
 * place, naming the layer being computed (from the ONNX node names, e.g.
 * `/transformer/h.3/...`, `/bert/encoder/layer.3/...`) and the share of ops
 * done. Nothing is printed when stderr is not a terminal.
 */
import type { Node } from '../../ir/graph.ts';

const LAYER = /(?:layers?|h|blocks?)[./_](\d+)(?:[./_]|$)/;

export function layerOf(node: Node): number | undefined {
  const m = node.origin !== undefined ? LAYER.exec(node.origin) : null;
  return m ? Number(m[1]) : undefined;
}

export function terminalProgress(
  label: string,
): ((done: number, total: number, node: Node) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let lastDraw = 0;
  let layer: number | undefined;
  return (done, total, node) => {
    layer = layerOf(node) ?? layer;
    const now = performance.now();
    if (done < total && now - lastDraw < 100) return;
    lastDraw = now;
    const where = layer !== undefined ? `layer ${layer}, ` : '';
    process.stderr.write(
      `\r${label}: ${where}op ${done}/${total} (${Math.floor((100 * done) / total)}%)\x1b[K`,
    );
    if (done === total) process.stderr.write('\r\x1b[K');
  };
}
