/**
 * TCP relays for tests.
 *
 * startCuttingProxy: a relay between the client and the server that lets a
 * test pick the moment a peer fails: it relays faithfully until the server
 * has sent `cutAfterBytes` to the client (mid-run, well past the handshake),
 * then stops relaying and reports it, so the test can kill the server at a
 * known point. What the client then sees is chosen by `afterCut`:
 *   'close'   the server's connection closing reaches the client (a dead
 *             peer: the kernel closes a killed process's sockets);
 *   'silence' the client's connection stays open and nothing arrives (a
 *             network partition: only the receive timeout can end it).
 *
 * startTap: a passive observer on a link, relaying and recording every byte.
 */
import * as net from 'node:net';

export interface CuttingProxy {
  readonly port: number;
  /** Resolves once the cut point is reached. */
  readonly cut: Promise<void>;
  /** Bytes relayed from the server to the client. */
  relayed(): number;
  close(): void;
}

export async function startCuttingProxy(
  serverPort: number,
  cutAfterBytes: number,
  afterCut: 'close' | 'silence',
): Promise<CuttingProxy> {
  let relayed = 0;
  let isCut = false;
  let onCut: () => void = () => {};
  const cut = new Promise<void>((resolve) => (onCut = resolve));
  const sockets: net.Socket[] = [];

  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(serverPort, '127.0.0.1');
    sockets.push(downstream, upstream);
    downstream.on('data', (d: Buffer) => {
      if (!isCut) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (isCut) return;
      const room = cutAfterBytes - relayed;
      const part = d.subarray(0, Math.max(0, room));
      if (part.length > 0) downstream.write(part);
      relayed += part.length;
      if (relayed >= cutAfterBytes) {
        isCut = true;
        onCut();
      }
    });
    const propagateClose = (): void => {
      if (afterCut === 'close' || !isCut) downstream.destroy();
    };
    upstream.on('close', propagateClose);
    upstream.on('error', propagateClose);
    downstream.on('close', () => upstream.destroy());
    downstream.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (typeof address !== 'object' || address === null) throw new Error('the proxy has no port');
  return {
    port: address.port,
    cut,
    relayed: () => relayed,
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

/** A passive tap: relays every byte both ways unchanged and records them all (what a network observer sees). */
export interface Tap {
  readonly port: number;
  /** Every byte relayed so far, both directions, in arrival order per connection. */
  bytes(): Buffer;
  close(): void;
}

export async function startTap(targetPort: number): Promise<Tap> {
  const seen: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.push(downstream, upstream);
    downstream.on('data', (d: Buffer) => {
      seen.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      seen.push(Buffer.from(d));
      downstream.write(d);
    });
    upstream.on('close', () => downstream.end());
    downstream.on('close', () => upstream.end());
    upstream.on('error', () => downstream.destroy());
    downstream.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (typeof address !== 'object' || address === null) throw new Error('the tap has no port');
  return {
    port: address.port,
    bytes: () => Buffer.concat(seen),
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}
