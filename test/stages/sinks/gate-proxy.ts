/**
 * A TCP proxy that can be shut like a gate: `shut()` cuts every connection and refuses new ones (the server
 * behind it looks down), `open()` lets connections through again. The outage a sink conformance case needs
 * for a database the test cannot stop.
 */
import { connect, createServer, type Socket } from "node:net";

/** The listening gate. */
export interface GateProxy {
  /** `upstreamUrl` with the proxy's host and port. */
  url: string;
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

/** Starts a gate in front of the server of `upstreamUrl` (open). */
export async function startGateProxy(upstreamUrl: string, defaultPort: number): Promise<GateProxy> {
  const up = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  let shut = false;
  const server = createServer((client) => {
    if (shut) return void client.destroy();
    const upstream = connect({ host: up.hostname, port: Number(up.port || defaultPort) });
    const cut = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    sockets.add(client).add(upstream);
    client.on("error", cut).on("close", cut);
    upstream.on("error", cut).on("close", cut);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(upstreamUrl);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    shut() {
      shut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    open() {
      shut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
