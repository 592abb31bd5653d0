/**
 * The operations endpoints: /metrics (Prometheus text), /healthz (liveness) and /readyz (readiness).
 * The server only renders what its probes return; what "healthy" and "ready" mean is the supervisor's
 * business. Bodies never carry configuration values (URLs, properties): probes return counts, ids and states.
 */
import { RuntimeError } from "../../errors/index.ts";

/** A probe answer: `ok` picks 200 or 503; the rest is the JSON body. */
export interface ProbeReport {
  ok: boolean;
  reason?: string;
  [key: string]: unknown;
}

/** What the server asks on each request. */
export interface HttpProbes {
  metrics(): string | Promise<string>;
  health(): ProbeReport | Promise<ProbeReport>;
  ready(): ProbeReport | Promise<ProbeReport>;
}

/** A running server; `port` is the bound one (useful when 0 asked for an ephemeral port). */
export interface HttpServer {
  readonly port: number;
  readonly host: string;
  stop(): Promise<void>;
}

const json = (r: ProbeReport): Response =>
  new Response(JSON.stringify(r) + "\n", { status: r.ok ? 200 : 503, headers: { "content-type": "application/json" } });

/** Starts the endpoints on host:port (port 0 = an ephemeral port chosen by the OS). Throws RUNTIME_HTTP_BIND. */
export function startHttpServer(opts: { host: string; port: number; probes: HttpProbes }): HttpServer {
  const { probes } = opts;
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: opts.host,
      port: opts.port,
      async fetch(req) {
        if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
        switch (new URL(req.url).pathname) {
          case "/metrics":
            return new Response(await probes.metrics(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
          case "/healthz":
            return json(await probes.health());
          case "/readyz":
            return json(await probes.ready());
          default:
            return new Response("not found: try /metrics, /healthz, /readyz\n", { status: 404 });
        }
      },
      error(err) {
        // A probe threw: answer 503 rather than let the error page leak internals.
        return json({ ok: false, reason: `probe failed: ${err.message}` });
      },
    });
  } catch (cause) {
    throw new RuntimeError("RUNTIME_HTTP_BIND", `cannot listen on ${opts.host}:${opts.port}: ${(cause as Error).message}`, {
      retriable: false,
      cause,
      context: { host: opts.host, port: opts.port },
    });
  }
  return {
    port: server.port ?? opts.port,
    host: opts.host,
    stop: async () => {
      await server.stop(true);
    },
  };
}
