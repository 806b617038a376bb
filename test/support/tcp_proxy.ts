/**
 * A loopback TCP relay in front of a real server, for outage tests: `stop()`
 * makes the server look stopped (SIGSTOP) to whoever goes through the relay —
 * open connections freeze and new ones are accepted but get no answer — and
 * `resume()` lets everything through again. The server itself keeps running,
 * so the rest of the test suite, which talks to it directly, is not affected.
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  /** `http://127.0.0.1:<port>`: the target's URL through the relay. */
  readonly url: string;
  stop(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startRelay(target: string): Promise<TcpRelay> {
  const { hostname, port } = new URL(target);
  let stopped = false;
  const held: Socket[] = [];
  const pairs = new Set<[Socket, Socket]>();
  const connect = (client: Socket) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream).pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  };
  const server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (stopped) {
      client.pause();
      held.push(client);
    } else connect(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url,
    stop() {
      stopped = true;
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
    },
    resume() {
      stopped = false;
      for (const c of held.splice(0))
        if (!c.destroyed) {
          connect(c);
          c.resume();
        }
    },
    async close() {
      for (const c of held.splice(0)) c.destroy();
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
