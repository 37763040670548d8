// runParty over TCP (mutual TLS) in one process: a peer that disconnects mid-protocol, a peer on
// another plan, dealer material used once and given to its own party only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarillError } from '../ir/errors.ts';
import type { TestCertificates } from '../test/runtime/certs.ts';
import { testCertificates } from '../test/runtime/certs.ts';
import { MaterialFolder, fileFeed, writeDealerMaterial } from './dealer/files.ts';
import { planMessageBound } from './bound-plan.ts';
import { handshake, makeHello } from './net/handshake.ts';
import { Listener, parseEndpoint } from './net/tcp.ts';
import { makePlan } from './plan.ts';
import { runParty } from './party.ts';
import { recvControl, sendControl } from './serve/control.ts';
import { SMALL_LAYER, bertEncoderLayer, layerInput, layerWeights } from '../test/runtime/layers.ts';

const dirs: string[] = [];
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  certs.remove();
});
const tls = (role: 'server' | 'client') => ({ tls: certs.files(role) });

function materialDir(plan: ReturnType<typeof makePlan>): string {
  const dir = mkdtempSync(join(tmpdir(), 'marill-party-'));
  dirs.push(dir);
  writeDealerMaterial(plan, dir, 1);
  return dir;
}

const layer = { ...SMALL_LAYER, seed: 21, nonlinear: false };

describe('runParty', () => {
  it('a server that disconnects mid-protocol ends the client run with a clear error', async () => {
    const graph = bertEncoderLayer(layer);
    const plan = makePlan(graph);
    const dir = materialDir(plan);
    const listener = await Listener.open(parseEndpoint('127.0.0.1:0'), {
      ...tls('server'),
      peerRoles: ['client'],
    });
    // A fake server: completes the handshake, welcomes the client, then leaves when the protocol starts.
    const fake = (async () => {
      const ch = await listener.accept(10_000);
      const tag = MaterialFolder.open(plan, 'server', join(dir, 'server')).tag;
      await handshake(
        ch,
        makeHello('server', plan.hash, plan.weightsDigest, tag),
        'client',
        planMessageBound(plan),
      );
      sendControl(ch, { control: 'welcome', session: 1 });
      await recvControl(ch, ['infer']);
      sendControl(ch, { control: 'go', material: 0 });
      ch.close();
      listener.close();
    })();
    const t0 = Date.now();
    const err = await runParty({
      plan,
      party: 'client',
      weights: layerWeights(graph, 'client'),
      inputs: [new Map([['hidden_in', layerInput(layer, 1)]])],
      connect: `127.0.0.1:${listener.port}`,
      dealerDir: join(dir, 'client'),
      ...tls('client'),
      timeoutMs: 60_000,
    }).catch((e: unknown) => e);
    await fake;
    expect(err).toBeInstanceOf(MarillError);
    const line = (err as MarillError).format();
    expect(line).toMatch(/= matmul.*the server at 127\.0\.0\.1:\d+ closed the connection/);
    expect(line).not.toContain('\n');
    expect(Date.now() - t0).toBeLessThan(30_000); // not the 60 s receive timeout
  });

  it('parties on different plans refuse each other', async () => {
    const serverGraph = bertEncoderLayer(layer);
    const clientGraph = bertEncoderLayer({ ...layer, seed: 22 });
    const [serverPlan, clientPlan] = [makePlan(serverGraph), makePlan(clientGraph)];
    let port = 0;
    let listening: () => void = () => {};
    const ready = new Promise<void>((r) => (listening = r));
    const server = runParty({
      plan: serverPlan,
      party: 'server',
      weights: layerWeights(serverGraph, 'server'),
      inputs: [new Map()],
      listen: '127.0.0.1:0',
      dealerDir: join(materialDir(serverPlan), 'server'),
      ...tls('server'),
      onListening: (p) => {
        port = p;
        listening();
      },
    }).catch((e: unknown) => e);
    await ready;
    const client = await runParty({
      plan: clientPlan,
      party: 'client',
      weights: layerWeights(clientGraph, 'client'),
      inputs: [new Map([['hidden_in', layerInput(layer, 1)]])],
      connect: `127.0.0.1:${port}`,
      dealerDir: join(materialDir(clientPlan), 'client'),
      ...tls('client'),
    }).catch((e: unknown) => e);
    for (const e of [await server, client]) {
      expect(e).toBeInstanceOf(MarillError);
      expect((e as MarillError).message).toMatch(/^refusing the (server|client) at .*: plan differs/);
    }
  });

  it('dealer material is used once: a second run on the same directory is refused', async () => {
    const graph = bertEncoderLayer(layer);
    const plan = makePlan(graph);
    const dir = materialDir(plan);
    let port = 0;
    let listening: () => void = () => {};
    const ready = new Promise<void>((r) => (listening = r));
    const server = runParty({
      plan,
      party: 'server',
      weights: layerWeights(graph, 'server'),
      inputs: [new Map()],
      listen: '127.0.0.1:0',
      dealerDir: join(dir, 'server'),
      ...tls('server'),
      onListening: (p) => {
        port = p;
        listening();
      },
    });
    await ready;
    const input = new Map([['hidden_in', layerInput(layer, 1)]]);
    const opts = {
      plan,
      party: 'client' as const,
      weights: layerWeights(graph, 'client'),
      dealerDir: join(dir, 'client'),
      ...tls('client'),
    };
    const first = await runParty({ ...opts, inputs: [input], connect: `127.0.0.1:${port}` });
    await server;
    expect(first.outputs[0]!.get('hidden_out')!.shape).toEqual([1, layer.seq, layer.hidden]);
    const again = await runParty({
      ...opts,
      inputs: [input],
      connect: '127.0.0.1:1',
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect((again as MarillError).message).toMatch(/all 1 inference\(s\) of this dealer material are used/);
  });

  it('a party opens only its own dealer folder: never the other party’s, nor the parent of both', () => {
    const plan = makePlan(bertEncoderLayer(layer));
    const dir = materialDir(plan);
    expect(() => fileFeed(plan, 'client', join(dir, 'server'))).toThrow(
      /is the server's dealer material: the client must be given only its own folder/,
    );
    expect(() => fileFeed(plan, 'client', dir)).toThrow(
      /holds both parties' dealer material: give the client only its own folder \(--dealer-dir .*client\)/,
    );
    expect(() => fileFeed(plan, 'server', join(dir, 'client'))).toThrow(/is the client's dealer material/);
    fileFeed(plan, 'client', join(dir, 'client')).close();
  });
});
