/**
 * A throw-away real Apache Kafka broker (with its own ZooKeeper) owned by a fault-injection test: free ports,
 * a temp data dir, started with dev/kafka/broker.sh, so the test can stop it (SIGTERM: a clean shutdown;
 * SIGKILL: a crash) and start it again on the same port from the same log dirs (log recovery after a crash)
 * without touching the broker the rest of the run shares.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, run } from "../support/net.ts";

const BROKER_SH = resolve(import.meta.dir, "../kafka/broker.sh");

/** One broker + ZooKeeper that can be stopped and started again. */
export class KafkaBrokerInstance {
  private up = false;

  private constructor(
    readonly port: number,
    readonly zkPort: number,
    readonly dir: string,
  ) {}

  /** Starts ZooKeeper and the broker on free ports (takes ~5-20 s: two JVMs). */
  static async start(): Promise<KafkaBrokerInstance> {
    const b = new KafkaBrokerInstance(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), "tf-fault-kafka-")));
    await b.start();
    return b;
  }

  /** Bootstrap address. */
  get bootstraps(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** True between start and stop. */
  get running(): boolean {
    return this.up;
  }

  /** Starts what is not running (the broker, and ZooKeeper if it was stopped too), from the same data dir. */
  async start(): Promise<void> {
    await run(["bash", BROKER_SH, "start", this.dir], { env: this.env() });
    this.up = true;
  }

  /** Stops the broker: SIGTERM (controlled shutdown) or SIGKILL (a crash); ZooKeeper keeps running. */
  async stop(signal: "TERM" | "KILL"): Promise<void> {
    this.up = false;
    await run(["bash", BROKER_SH, "stop", this.dir], { env: { ...this.env(), SIGNAL: signal, KAFKA_ONLY: "1" } });
  }

  /** Stops broker and ZooKeeper and removes the data dir. */
  async dispose(): Promise<void> {
    this.up = false;
    await run(["bash", BROKER_SH, "stop", this.dir], { env: { ...this.env(), SIGNAL: "KILL" } }).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private env(): Record<string, string | undefined> {
    return { ...process.env, KAFKA_PORT: String(this.port), ZK_PORT: String(this.zkPort), KAFKA_HEAP: process.env.KAFKA_HEAP ?? "512m" };
  }
}
