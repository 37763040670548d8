// Generation sessions over TCP on loopback (mutual TLS): a live dealer and a long-running server
// serving generation sessions; tokens equal the in-process session's and the plaintext steps';
// the secret cache never crosses to the client in the clear; mismatched schedules, a context
// beyond maxContext and material folders are refused; a client that stops mid-generation ends its
// session with an error line and the server goes on serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCertificates } from '../../test/runtime/certs.ts';
import { testCertificates } from '../../test/runtime/certs.ts';
import { ToyGeneration } from '../../test/runtime/step-plans.ts';
import { DealerService, liveDealerFeed } from '../dealer/live.ts';
import { materialProvider } from '../dealer/provider.ts';
import type { Role } from '../net/identity.ts';
import type { LinkOptions } from '../net/tcp.ts';
import { connect, parseEndpoint } from '../net/tcp.ts';
import { runParty } from '../party.ts';
import type { SessionLogEntry } from '../serve/log.ts';
import { PartyServer } from '../serve/server.ts';
import { ClientGeneration } from './served.ts';
import { GenerationWeights } from './session.ts';
import { simulateGeneration } from './simulate.ts';

const gen = new ToyGeneration();
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});
afterAll(() => certs.remove());
const tlsFor = (role: Role): LinkOptions => ({ tls: certs.files(role) });

async function start() {
  const dealer = await DealerService.start({
    plan: gen.plan,
    listen: parseEndpoint('127.0.0.1:0'),
    ...tlsFor('dealer'),
    timeoutMs: 20_000,
  });
  const material = { dealer: `127.0.0.1:${dealer.port}` };
  const log: SessionLogEntry[] = [];
  const server = await PartyServer.start({
    weights: new GenerationWeights(gen.plan, 'server', gen.serverWeights()),
    listen: parseEndpoint('127.0.0.1:0'),
    ...tlsFor('server'),
    material: materialProvider(gen.plan, 'server', material, tlsFor('server')),
    handshakeTimeoutMs: 5_000,
    timeoutMs: 20_000,
    onLog: (e) => log.push(e),
  });
  const stop = async () => {
    server.shutdown();
    dealer.stop();
    await server.done;
    await dealer.done;
  };
  return { dealer, server, material, log, stop };
}

function client(port: number, dealer: string, promptIds: number[], maxNewTokens: number) {
  return runParty({
    plan: gen.plan,
    party: 'client',
    weights: gen.clientWeights(),
    connect: `127.0.0.1:${port}`,
    dealer,
    ...tlsFor('client'),
    timeoutMs: 20_000,
    generate: { promptIds, options: { maxNewTokens } },
  });
}

describe('served generation sessions', () => {
  it('two concurrent sessions generate the in-process tokens; each step costs the same as in process', async () => {
    const { server, material, log, stop } = await start();
    try {
      const [a, b] = await Promise.all([
        client(server.port, material.dealer, [3, 1, 4], 6),
        client(server.port, material.dealer, [9, 9], 4),
      ]);
      const weights = { server: gen.serverWeights(), client: gen.clientWeights() };
      const wantA = await simulateGeneration(gen.plan, weights, {
        promptIds: [3, 1, 4],
        options: { maxNewTokens: 6 },
      });
      const wantB = await simulateGeneration(gen.plan, weights, {
        promptIds: [9, 9],
        options: { maxNewTokens: 4 },
      });
      expect(a.generation!.tokens).toEqual(wantA.tokens);
      expect(b.generation!.tokens).toEqual(wantB.tokens);
      expect(a.generation!.prompt).toEqual([3, 1, 4]);
      const traffic = (s: readonly { position: number; online_bytes: number; rounds: number }[]) =>
        s.map(({ position, online_bytes, rounds }) => ({ position, online_bytes, rounds }));
      expect(traffic(a.generation!.steps)).toEqual(traffic(wantA.steps));
      expect(a.setup!.bytes).toBe(wantA.setup.bytes);
    } finally {
      await stop();
    }
    expect(
      log
        .filter((e) => e.event === 'session')
        .map((e) => e.inferences)
        .sort(),
    ).toEqual([4, 6]);
    expect(log.every((e) => e.ended === undefined)).toBe(true);
  });

  it('a schedule beyond maxContext is refused by the client before it connects, and by the server', async () => {
    const { server, material, stop } = await start();
    try {
      await expect(client(server.port, material.dealer, [1, 2, 3, 4, 5, 6], 6)).rejects.toThrow(
        /need a context of 11, beyond the plan's maxContext 10/,
      );
    } finally {
      await stop();
    }
  });

  it('the dealer refuses a session whose parties announce different schedules', async () => {
    const dealer = await DealerService.start({
      plan: gen.plan,
      listen: parseEndpoint('127.0.0.1:0'),
      ...tlsFor('dealer'),
      timeoutMs: 20_000,
    });
    try {
      const at = parseEndpoint(`127.0.0.1:${dealer.port}`);
      const id = 'ab'.repeat(16);
      const first = await liveDealerFeed(gen.plan, 'server', at, id, tlsFor('server'), {
        prompt: 3,
        steps: 4,
      });
      await expect(
        liveDealerFeed(gen.plan, 'client', at, id, tlsFor('client'), { prompt: 3, steps: 5 }),
      ).rejects.toThrow(
        /the dealer refused the session: the parties announced different schedules: the client announced a prompt of 3 token\(s\), 5 step\(s\), the server a prompt of 3 token\(s\), 4 step\(s\)/,
      );
      first.close();
    } finally {
      dealer.stop();
      await dealer.done;
    }
  });

  it('material folders are refused for a generation plan with a one-line reason', () => {
    expect(() => materialProvider(gen.plan, 'server', { dealerDir: '/nonexistent' }, {})).toThrow(
      /a generation plan needs a live dealer/,
    );
  });

  it('a client that stops mid-generation ends its session with an error line; the server serves the next', async () => {
    const { server, material, log, stop } = await start();
    try {
      const channel = await connect(parseEndpoint(`127.0.0.1:${server.port}`), 'server', tlsFor('client'));
      const session = await ClientGeneration.open({
        plan: gen.plan,
        weights: new GenerationWeights(gen.plan, 'client', gen.clientWeights()),
        channel,
        material: materialProvider(gen.plan, 'client', material, tlsFor('client')),
        announced: { prompt: 2, steps: 5 },
      });
      await session.step([1, 2]);
      // The client vanishes mid-generation (no end frame): its connection drops (then its dealer link).
      channel.close();
      session.close();
      await expect.poll(() => log.filter((e) => e.event === 'session').length, { timeout: 15_000 }).toBe(1);
      const ended = log.find((e) => e.event === 'session')!;
      expect(ended.inferences).toBe(1);
      expect(ended.ended).toMatch(/client/);
      const next = await client(server.port, material.dealer, [5, 6], 3);
      expect(next.generation!.tokens).toHaveLength(3);
    } finally {
      await stop();
    }
  });

  it("a server that stops mid-generation ends the client's run with a one-line error", async () => {
    const { server, material, stop } = await start();
    const channel = await connect(parseEndpoint(`127.0.0.1:${server.port}`), 'server', tlsFor('client'));
    const session = await ClientGeneration.open({
      plan: gen.plan,
      weights: new GenerationWeights(gen.plan, 'client', gen.clientWeights()),
      channel,
      material: materialProvider(gen.plan, 'client', material, tlsFor('client')),
      announced: { prompt: 2, steps: 5 },
    });
    try {
      await session.step([1, 2]);
      server.shutdown();
      const err = await session.step([3]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/server .*refused the step: the server is shutting down/);
      expect((err as Error).message).not.toContain('\n');
    } finally {
      session.close();
      await stop();
    }
  });
});
