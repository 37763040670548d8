/**
 * `marillc serve PLAN.ts --party server|dealer ...`: a long-running server
 * (one session per client, many at once) or a live dealer for many
 * sessions, until SIGTERM or SIGINT. One log line per session on stderr
 * (JSON lines with --log-json). See docs/serving.md.
 */
import { DealerService } from '../../../runtime/dealer/live.ts';
import { checkMaterial, materialProvider } from '../../../runtime/dealer/provider.ts';
import { CheckedWeights } from '../../../runtime/executor.ts';
import { parseEndpoint } from '../../../runtime/net/tcp.ts';
import type { SessionLogEntry } from '../../../runtime/serve/log.ts';
import { formatLogLine } from '../../../runtime/serve/log.ts';
import { PartyServer } from '../../../runtime/serve/server.ts';
import { isGenerationPlan } from '../../../runtime/generate/plan.ts';
import { GenerationWeights } from '../../../runtime/generate/session.ts';
import { loadAnyPlanModule } from '../../party/plan-module.ts';
import { loadGenerationWeights } from '../../party/run-generation.ts';
import { loadPartyWeights } from '../../party/party-weights.ts';
import { serverGenerationPlan, serverPlan } from '../../party/weight-key.ts';
import type { TlsFlags } from './common.ts';
import { checkDealerFlags, linkFrom } from './common.ts';

export interface ServeFlags extends TlsFlags {
  party: 'server' | 'dealer';
  model?: string;
  listen: string;
  dealer?: string;
  dealerDir?: string;
  maxSessions: number;
  handshakeTimeout: number;
  timeout: number;
  grace: number;
  aheadMib: number;
  logJson?: boolean;
  weightKey?: string;
}

/** Resolves on the first SIGTERM or SIGINT (the handlers are removed after). */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export async function serveCommand(planFile: string, flags: ServeFlags): Promise<void> {
  const json = flags.logJson === true;
  const log = (e: SessionLogEntry): void => void process.stderr.write(`${formatLogLine(e, json)}\n`);
  const { maxSessions } = flags;
  const timeoutMs = flags.timeout * 1000;
  const graceMs = flags.grace * 1000;
  const handshakeTimeoutMs = flags.handshakeTimeout * 1000;
  const listen = parseEndpoint(flags.listen, '--listen');
  // TLS by default, as for `run`: --certs DIR (or --tls-*), or --insecure-plaintext with a warning.
  const link = linkFrom(flags, flags.party);
  const loaded = loadAnyPlanModule(planFile);
  const plan = loaded.plan;
  checkDealerFlags(plan, planFile, flags.party, flags);
  // The dealer's connections refused before their hello (wrong certificate, not TLS, silent) get
  // a log line; the server logs its own as sessions that ended before they began.
  const onRefused = (peer: string, why: string): void =>
    log({ event: 'refused', message: `${flags.party}: refused a connection from the ${peer}: ${why}` });
  const listening = (port: number): void =>
    log({ event: 'listening', message: `${flags.party}: listening on ${listen.host}:${port}` });
  const signal = stopSignal();

  if (flags.party === 'dealer') {
    const dealer = await DealerService.start({
      plan,
      listen,
      ...link,
      timeoutMs,
      maxSessions,
      aheadBytes: flags.aheadMib * 1024 * 1024,
      onListening: listening,
      onRefused,
      onSessionEnd: (s) =>
        log({
          event: 'session',
          session: s.id.slice(0, 12),
          inferences: s.inferences,
          bytes: s.bytesSent[0] + s.bytesSent[1],
          seconds: s.seconds,
          ...(s.ended !== undefined ? { ended: s.ended } : {}),
        }),
    });
    const got = await signal;
    log({ event: 'stopping', message: `dealer: ${got}: no new sessions; finishing the running ones` });
    const cut = setTimeout(() => dealer.abort('the dealer shut down'), graceMs);
    const summary = await dealer.done;
    clearTimeout(cut);
    log({
      event: 'stopped',
      message: `dealer: stopped after ${summary.sessions} session(s), ${summary.inferences} inference(s)`,
    });
    return;
  }

  // The server's copy of the plan carries its weight key: private weights are checked by keyed hash.
  // A generation plan's sessions are generation sessions (runtime/generate/served.ts).
  const serverCopy =
    loaded.kind === 'generation'
      ? serverGenerationPlan(loaded.plan, planFile, flags.weightKey)
      : serverPlan(loaded.plan, planFile, flags.weightKey);
  const weights = isGenerationPlan(serverCopy)
    ? new GenerationWeights(
        serverCopy,
        'server',
        loadGenerationWeights(serverCopy, 'server', flags.model, planFile),
      )
    : CheckedWeights.check(
        serverCopy,
        'server',
        loadPartyWeights(serverCopy, 'server', flags.model, planFile),
      );
  const connectOpts = { ...link, recvTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs };
  const material = materialProvider(serverCopy, 'server', flags, connectOpts);
  await checkMaterial(serverCopy, 'server', flags, connectOpts);
  const server = await PartyServer.start({
    weights,
    listen,
    material,
    ...link,
    maxSessions,
    handshakeTimeoutMs,
    timeoutMs,
    graceMs,
    onListening: listening,
    onLog: log,
  });
  const got = await signal;
  log({
    event: 'stopping',
    message: `server: ${got}: no new sessions; ${server.active} running, their inferences finish (up to ${graceMs / 1000} s)`,
  });
  server.shutdown();
  const summary = await server.done;
  log({
    event: 'stopped',
    message: `server: stopped after ${summary.sessions} session(s), ${summary.inferences} inference(s)`,
  });
}
