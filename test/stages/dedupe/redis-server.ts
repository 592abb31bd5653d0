/**
 * A throw-away redis-server for tests that stop and restart Redis: its own port and temp dir, no persistence,
 * never the shared instance on 6379.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { tcpReachable } from "../../support/services.ts";

/** Resolves a TCP port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a `redis-server` binary is on PATH. */
export const redisServerAvailable = Bun.which("redis-server") !== null;

/** One redis-server process that can be stopped and started again on the same port. */
export class TestRedisServer {
  private proc: Subprocess | null = null;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** redis:// URL of this server. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port. */
  static async start(): Promise<TestRedisServer> {
    const s = new TestRedisServer(await freePort(), mkdtempSync(join(tmpdir(), "tf-redis-")));
    await s.up();
    return s;
  }

  /** Starts the process (again) and waits until it accepts connections. */
  async up(): Promise<void> {
    if (this.proc) return;
    this.proc = Bun.spawn(
      ["redis-server", "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir],
      { stdout: "ignore", stderr: "ignore" },
    );
    const deadline = Date.now() + 10_000;
    while (!(await tcpReachable("127.0.0.1", this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start within 10 s`);
      await Bun.sleep(50);
    }
  }

  /** Stops the process and waits for it to exit. */
  async down(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = null;
    p.kill("SIGTERM");
    await p.exited;
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
