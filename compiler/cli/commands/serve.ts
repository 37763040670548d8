/**
 * `marillc serve PLAN.ts --party server|dealer ...`: a long-running server
 * (one session per client, many at once) or a live dealer for many
 * sessions, until SIGTERM or SIGINT. One log line per session on stderr
 * (JSON lines with --log-json). See docs/serving.md.
 */
import { MarillError } from '../../../ir/errors.ts';
import { DealerService } from '../../../runtime/dealer/live.ts';
import { checkMaterial, materialProvider } from '../../../runtime/dealer/provider.ts';
import { CheckedWeights } from '../../../runtime/executor.ts';
import { parseEndpoint } from '../../../runtime/net/tcp.ts';
import type { SessionLogEntry } from '../../../runtime/serve/log.ts';
import { formatLogLine } from '../../../runtime/serve/log.ts';
import { PartyServer } from '../../../runtime/serve/server.ts';
import { loadPlanModule } from '../../party/plan-module.ts';
import { loadPartyWeights } from '../../party/party-weights.ts';
import type { TlsFlags } from './common.ts';
import { numberFlag, tlsFrom } from './common.ts';

export interface ServeFlags extends TlsFlags {
  party: 'server' | 'dealer';
  model?: string;
  listen: string;
  dealer?: string;
  dealerDir?: string;
  maxSessions: string;
  handshakeTimeout: string;
  timeout: string;
  grace: string;
  aheadMib: string;
  logJson?: boolean;
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
  const seconds = (name: string, text: string) => numberFlag(name, text, 0.001) * 1000;
  const maxSessions = numberFlag('--max-sessions', flags.maxSessions, 1, true);
  const timeoutMs = seconds('--timeout', flags.timeout);
  const graceMs = seconds('--grace', flags.grace);
  const handshakeTimeoutMs = seconds('--handshake-timeout', flags.handshakeTimeout);
  const listen = parseEndpoint(flags.listen, '--listen');
  const tls = tlsFrom(flags);
  const plan = await loadPlanModule(planFile);
  const listening = (port: number): void =>
    log({ event: 'listening', message: `${flags.party}: listening on ${listen.host}:${port}` });
  const signal = stopSignal();

  if (flags.party === 'dealer') {
    if (flags.model !== undefined || flags.dealer !== undefined || flags.dealerDir !== undefined)
      throw new MarillError(
        'the live dealer takes no --model, --dealer or --dealer-dir (write material ahead with marillc run --party dealer --dealer-dir)',
      );
    const dealer = await DealerService.start({
      plan,
      listen,
      ...(tls ? { tls } : {}),
      timeoutMs,
      maxSessions,
      aheadBytes: numberFlag('--ahead-mib', flags.aheadMib, 1) * 1024 * 1024,
      onListening: listening,
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

  if (flags.dealer === undefined && flags.dealerDir === undefined)
    throw new MarillError('the server needs --dealer HOST:PORT (a live dealer) or --dealer-dir DIR');
  const weights = CheckedWeights.check(plan, 'server', loadPartyWeights(plan, 'server', flags.model));
  const connectOpts = { ...(tls ? { tls } : {}), recvTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs };
  const material = materialProvider(plan, 'server', flags, connectOpts);
  await checkMaterial(plan, 'server', flags, connectOpts);
  const server = await PartyServer.start({
    plan,
    weights,
    listen,
    material,
    ...(tls ? { tls } : {}),
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
