/**
 * A TCP proxy in front of PostgreSQL that can lose one COMMIT acknowledgement: once armed, the first
 * write that the server reports committed (CommandComplete COMMIT or INSERT followed by ReadyForQuery
 * in state idle) never reaches the client; both sockets are cut instead. The rows are durable, the client
 * sees a dropped connection: the exact situation a retried batch must count right.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/** The listening proxy. */
export interface LostAckProxy {
  url: string;
  /** Loses the acknowledgement of the next committed write. */
  arm(): void;
  /** Resolves after an armed cut has happened. */
  cut: () => Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy to the server of `upstreamUrl`; its `url` keeps user and database. */
export async function startLostAckProxy(upstreamUrl: string): Promise<LostAckProxy> {
  const up = new URL(upstreamUrl);
  let armed = false;
  let onCut: (() => void) | null = null;
  let cutDone: Promise<void> = Promise.resolve();
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = connect({ host: up.hostname, port: Number(up.port || 5432) });
    sockets.add(client).add(upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", kill).on("close", kill);
    upstream.on("error", kill).on("close", kill);
    client.on("data", (d) => upstream.write(d));

    // Server -> client: framed, so the proxy can hold back everything from a write's CommandComplete
    // up to its ReadyForQuery and decide there whether it was a commit.
    let buf = Buffer.alloc(0);
    let held: Buffer[] | null = null;
    upstream.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5) {
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) break;
        const msg = buf.subarray(0, 1 + len);
        buf = buf.subarray(1 + len);
        const type = String.fromCharCode(msg[0]);
        if (armed && type === "C") {
          const tag = msg.subarray(5, msg.length - 1).toString();
          if (tag === "COMMIT" || tag.startsWith("INSERT")) held ??= [];
        }
        if (held) {
          held.push(Buffer.from(msg));
          if (type === "Z") {
            if (msg[5] === 0x49 /* 'I': idle, i.e. committed */) {
              armed = false;
              held = null;
              kill();
              onCut?.();
              return;
            }
            client.write(Buffer.concat(held));
            held = null;
          }
          continue;
        }
        client.write(msg);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const url = new URL(upstreamUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    arm() {
      armed = true;
      cutDone = new Promise((resolve) => (onCut = resolve));
    },
    cut: () => cutDone,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
