import { afterEach, describe, expect, test } from "bun:test";
import { RuntimeError } from "../../../shared/errors/index.ts";
import { startHttpServer, type HttpServer, type ProbeReport } from "../../../shared/runtime/http/server.ts";

let servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

function serve(health: ProbeReport, ready: ProbeReport | (() => ProbeReport)): HttpServer {
  const s = startHttpServer({
    host: "127.0.0.1",
    port: 0,
    probes: { metrics: () => "# TYPE x counter\nx 1\n", health: () => health, ready: typeof ready === "function" ? ready : () => ready },
  });
  servers.push(s);
  return s;
}

describe("startHttpServer", () => {
  test("port 0 binds an ephemeral port; /metrics is Prometheus text", async () => {
    const s = serve({ ok: true }, { ok: true });
    expect(s.port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${s.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(await res.text()).toBe("# TYPE x counter\nx 1\n");
  });

  test("/healthz and /readyz answer 200 or 503 with the probe's JSON", async () => {
    const s = serve({ ok: true, workers: 2 }, { ok: false, reason: "worker 1 is not ready" });
    const h = await fetch(`http://127.0.0.1:${s.port}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ ok: true, workers: 2 });
    const r = await fetch(`http://127.0.0.1:${s.port}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ok: false, reason: "worker 1 is not ready" });
  });

  test("a probe that throws answers 503 instead of an error page", async () => {
    const s = serve({ ok: true }, () => {
      throw new Error("boom");
    });
    const r = await fetch(`http://127.0.0.1:${s.port}/readyz`);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { reason: string }).reason).toContain("boom");
  });

  test("unknown paths are 404, other methods 405", async () => {
    const s = serve({ ok: true }, { ok: true });
    expect((await fetch(`http://127.0.0.1:${s.port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${s.port}/metrics`, { method: "POST" })).status).toBe(405);
  });

  test("a port in use is RUNTIME_HTTP_BIND", () => {
    const s = serve({ ok: true }, { ok: true });
    try {
      startHttpServer({ host: "127.0.0.1", port: s.port, probes: { metrics: () => "", health: () => ({ ok: true }), ready: () => ({ ok: true }) } });
      throw new Error("expected a bind error");
    } catch (e) {
      expect(e).toBeInstanceOf(RuntimeError);
      expect((e as RuntimeError).code).toBe("RUNTIME_HTTP_BIND");
      expect((e as RuntimeError).retriable).toBe(false);
    }
  });
});
