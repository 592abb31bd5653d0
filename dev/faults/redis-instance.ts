/**
 * A throw-away redis-server owned by a fault-injection suite: its own free port and temp dir, no
 * persistence, so the suite can stop it ("Redis is down") and start it again on the same port without ever
 * touching the shared instance on 6379. Restarting loses every key, exactly like a Redis without
 * persistence that crashed: the Bloom filter forgets, and the pipeline must stay exact anyway.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, tcpOpen } from "../support/net.ts";
import { waitFor } from "../support/wait.ts";
import type { TestCertificates } from "./tls.ts";

/** Options of a test Redis: a password (`requirepass`) and/or TLS only (no plaintext port). */
export interface RedisInstanceOptions {
  password?: string;
  tls?: TestCertificates;
}

/** One redis-server that can be stopped and started again on the same port. */
export class RedisInstance {
  private proc: Subprocess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly opts: RedisInstanceOptions,
  ) {}

  /** Starts a server on a free port. */
  static async start(opts: RedisInstanceOptions = {}): Promise<RedisInstance> {
    const r = new RedisInstance(await freePort(), mkdtempSync(join(tmpdir(), "tf-fault-redis-")), opts);
    await r.up();
    return r;
  }

  /** URL of this server: redis:// (or rediss:// to localhost, the certificate's name, with TLS), with the password when it has one. */
  get url(): string {
    const auth = this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : "";
    return this.opts.tls ? `rediss://${auth}localhost:${this.port}` : `redis://${auth}127.0.0.1:${this.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.proc !== null;
  }

  /** Starts the process (again, same port) and waits until it accepts connections. */
  async up(): Promise<void> {
    if (this.proc) return;
    const args = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir];
    const { password, tls } = this.opts;
    if (tls) {
      args.push("--port", "0", "--tls-port", String(this.port), "--tls-cert-file", tls.cert, "--tls-key-file", tls.key);
      args.push("--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no");
    } else args.push("--port", String(this.port));
    if (password) args.push("--requirepass", password);
    this.proc = Bun.spawn(args, { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    const proc = this.proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${proc.exitCode} at start`);
        return tcpOpen("127.0.0.1", this.port, 500);
      },
      { timeoutMs: 10_000, what: `redis-server on port ${this.port}`, everyMs: 50 },
    );
  }

  /** Stops the process (SIGTERM; no persistence, so it exits at once) and waits for it to exit. */
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
