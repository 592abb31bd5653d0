/**
 * A throw-away PostgreSQL cluster owned by a fault-injection suite: `initdb` in a temp dir, `pg_ctl` on a
 * free port with the socket in that dir, trust auth for user postgres. The suite can restart it or
 * terminate the pipeline's backends without touching the shared server on 5432.
 *
 * initdb refuses to run as root, so as root every cluster command runs as the `postgres` OS user
 * (`runuser -u postgres --`) on a data dir chowned to it. fsync is off: the suite restarts the server
 * cleanly (`pg_ctl -m fast`, a shutdown checkpoint), it never crashes the machine, so durability across an
 * OS crash is not what is under test, and the shared 2-core box is spared the flushes.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort, run } from "../support/net.ts";
import type { TestCertificates } from "./tls.ts";

/** Directory of the PostgreSQL server binaries: $PG_BIN, else the newest /usr/lib/postgresql/<v>/bin. */
export function postgresBinDir(env: Record<string, string | undefined> = process.env): string {
  if (env.PG_BIN) return env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error("PostgreSQL server binaries not found: install postgresql or set PG_BIN to the directory holding initdb and pg_ctl");
  return join(root, versions[0], "bin");
}

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
/** application_name of the fault injector's own sessions, which it never terminates. */
export const INJECTOR_APP = "tf-fault-injector";

/** Clusters still running, stopped at process exit if a suite died before its afterAll (pg_ctl daemonizes them). */
const running = new Set<PostgresInstance>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const pg of running) pg.killNow();
  });
}

/** Options of a test cluster. */
export interface PostgresInstanceOptions {
  /** Serve TLS with this certificate (clients may then use sslmode=require). */
  ssl?: TestCertificates;
}

/** One PostgreSQL cluster that can be stopped, started and restarted on the same port. */
export class PostgresInstance {
  private readonly bin = postgresBinDir();

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly opts: PostgresInstanceOptions,
  ) {}

  /** The data directory. */
  get dataDir(): string {
    return join(this.dir, "data");
  }

  /** Connection URL for user postgres, database postgres. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb + start on a free port. */
  static async start(opts: PostgresInstanceOptions = {}): Promise<PostgresInstance> {
    const pg = new PostgresInstance(await freePort(), mkdtempSync(join(tmpdir(), "tf-fault-pg-")), opts);
    try {
      if (opts.ssl) {
        // The server reads its key only when the server's OS user owns it and nobody else can read it.
        copyFileSync(opts.ssl.cert, join(pg.dir, "server.crt"));
        copyFileSync(opts.ssl.key, join(pg.dir, "server.key"));
        await run(["chmod", "600", join(pg.dir, "server.key")]);
      }
      if (asRoot) await run(["chown", "-R", "postgres:", pg.dir]);
      await pg.cluster(["initdb", "-D", pg.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
      await pg.up();
    } catch (err) {
      rmSync(pg.dir, { recursive: true, force: true });
      throw err;
    }
    return pg;
  }

  /** Starts the server (again) and waits until it accepts connections. */
  async up(): Promise<void> {
    let opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
    if (this.opts.ssl) opts += ` -c ssl=on -c ssl_cert_file=${join(this.dir, "server.crt")} -c ssl_key_file=${join(this.dir, "server.key")}`;
    await this.cluster(["pg_ctl", "-D", this.dataDir, "-l", join(this.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start"]);
    running.add(this);
    installExitHook();
  }

  /** Stops the server (fast mode: running transactions roll back, clients are disconnected). */
  async down(): Promise<void> {
    await this.cluster(["pg_ctl", "-D", this.dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
    running.delete(this);
  }

  /** `pg_ctl restart` (fast mode) with the options it was started with. */
  async restart(): Promise<void> {
    await this.cluster(["pg_ctl", "-D", this.dataDir, "-l", join(this.dir, "server.log"), "-m", "fast", "-w", "-t", "60", "restart"]);
  }

  /**
   * Terminates the named client's backends while they run a statement, polling until `count` were hit
   * (or `timeoutMs` passed); resolves with how many were terminated. Idle connections are left alone: the
   * driver replaces those silently, which would not test the pipeline's retry path.
   */
  async terminateActive(applicationName: string, count: number, timeoutMs: number): Promise<number> {
    const sql = postgres(this.url, { max: 1, onnotice: () => {}, connection: { application_name: INJECTOR_APP } });
    let hit = 0;
    const deadline = Date.now() + timeoutMs;
    try {
      while (hit < count && Date.now() < deadline) {
        const [r] = await sql<Array<{ n: number }>>`
          SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND application_name = ${applicationName} AND state = 'active'`;
        hit += r.n;
        if (r.n > 0) await Bun.sleep(500); // let the pipeline notice and retry before the next hit
      }
      return hit;
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  /** Stops the server (if running) and removes the cluster directory. */
  async dispose(): Promise<void> {
    try {
      await this.down();
    } catch {
      // Already stopped (or never started): removing the directory is all that is left.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous immediate stop, for the exit hook (no promises run after "exit"). */
  killNow(): void {
    const cmd = [join(this.bin, "pg_ctl"), "-D", this.dataDir, "-m", "immediate", "-w", "stop"];
    Bun.spawnSync(asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd, { stdout: "ignore", stderr: "ignore" });
    running.delete(this);
  }

  /** Runs a cluster binary, as the postgres OS user when we are root (initdb and postgres refuse root). */
  private async cluster(argv: string[]): Promise<string> {
    const cmd = [join(this.bin, argv[0]), ...argv.slice(1)];
    return run(asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd, { cwd: this.dir, env: { ...process.env, LC_ALL: "C.UTF-8" } });
  }
}
