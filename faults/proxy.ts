// A TCP proxy that can blackhole: while cut, bytes in either direction are swallowed and new connections
// are accepted but go nowhere, as a partitioned network does (no reset, no refusal: the peers find out by
// their own timeouts). The kernel here has no netem, so network faults go through this.
import { createServer, type Server, type Socket, connect } from 'node:net';

export class BlackholeProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  cut = false;

  constructor(
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (this.cut) {
      client.on('data', () => {}); // swallowed
      return;
    }
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => (this.sockets.delete(upstream), client.destroy()));
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.on('data', (chunk) => this.cut || upstream.write(chunk));
    upstream.on('data', (chunk) => this.cut || client.write(chunk));
  }

  /** Starts swallowing everything, on open connections too. */
  blackhole(): void {
    this.cut = true;
  }

  /** Lets traffic through again; connections opened while cut are dropped, so their peers reconnect. */
  heal(): void {
    this.cut = false;
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
