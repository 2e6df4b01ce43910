import { createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy in front of the coordinator whose connections a test can cut, as a network drop would. */
export class DropProxy {
  private readonly sockets = new Set<Socket>();
  private downUntil = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<DropProxy> {
    const { hostname, port } = new URL(target);
    let proxy: DropProxy | undefined;
    const server = createServer((client) => {
      if (!proxy || Date.now() < proxy.downUntil) {
        client.destroy();
        return;
      }
      const upstream = new (client.constructor as typeof Socket)();
      upstream.connect(Number(port), hostname);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => b.destroy());
        proxy.sockets.add(a);
        a.on('close', () => proxy?.sockets.delete(a));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    proxy = new DropProxy(server, `http://127.0.0.1:${address.port}`);
    return proxy;
  }

  /** Break every connection and refuse new ones for `ms` (until `restore()` without one). */
  cut(ms = Number.POSITIVE_INFINITY): void {
    this.downUntil = Date.now() + ms;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.downUntil = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
