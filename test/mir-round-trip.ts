/**
 * The .mir round-trip check shared by the printer's tests and the example-model
 * test: print, parse back, print again; the text must be byte-identical and the
 * parsed graph equal to the original in everything the text carries.
 */
import { expect } from 'vitest';
import type { Graph } from '../ir/graph.ts';
import { parseGraph } from '../ir/parse.ts';
import { printGraph } from '../ir/print.ts';

/** The parts of each node the text form carries (weight data is not: weights appear by hash). */
function nodesAsText(g: Graph) {
  return g.nodes.map(({ op, inputs, outputs, attrs, placement, protocol }) => ({
    op,
    inputs,
    outputs,
    attrs,
    placement,
    protocol,
  }));
}

/** Asserts print(parse(print(g))) === print(g) and that the parsed graph equals g as text; returns it. */
export function expectTextRoundTrip(g: Graph, file?: string): Graph {
  const text = printGraph(g);
  const back = parseGraph(text, file);
  expect(printGraph(back)).toBe(text);
  expect(back.inputs).toEqual(g.inputs);
  expect(back.outputs).toEqual(g.outputs);
  expect([...back.values.entries()]).toEqual([...g.values.entries()]);
  expect(nodesAsText(back)).toEqual(nodesAsText(g));
  return back;
}
