/**
 * Applies group rebalances delivered as RD_KAFKA_EVENT_REBALANCE, from JS: assign / unassign for the eager
 * protocols, incremental_assign / incremental_unassign for cooperative-sticky, as
 * rd_kafka_rebalance_protocol says. Keeps the member's current assignment.
 *
 * Revocation order, which the exactly-once pipeline depends on:
 *   1. undelivered messages of the revoked partitions are destroyed (never delivered, not committed, so the
 *      next owner reads them from the committed offset);
 *   2. the caller's handler is awaited (it finishes in-flight work and commits);
 *   3. only then is the revocation completed in librdkafka.
 */
import { rdkafka } from "../ffi/lib.ts";
import { check, checkErrorPtr, errFromCode } from "../client/rd-errors.ts";
import { readTpList, tpKey } from "../client/tplist.ts";
import type { RebalanceEvent, TopicPartition } from "../types.ts";

const ERR_ASSIGN_PARTITIONS = -175;
const ERR_REVOKE_PARTITIONS = -174;

/** What the consumer does around a rebalance. */
export interface RebalanceHooks {
  /** Destroys undelivered messages of these "topic:partition" keys. */
  dropPartitions(keys: ReadonlySet<string>): void;
  /** Destroys every undelivered message. */
  dropAll(): void;
  /** The caller's onRebalance (its failure must not escape). */
  notify(e: RebalanceEvent): Promise<void>;
  onError(err: Error): void;
}

/** The member's assignment, updated by applying rebalance events. */
export class Assignment {
  private readonly owned = new Map<string, TopicPartition>();
  /** True once a rebalance assigned something (possibly nothing): a SyncGroup completed. */
  everAssigned = false;

  constructor(
    private readonly rk: number,
    private readonly hooks: RebalanceHooks,
  ) {}

  /** The partitions currently owned. */
  list(): TopicPartition[] {
    return [...this.owned.values()];
  }

  /** Applies one REBALANCE event (the caller destroys the event afterwards). */
  async apply(ev: number): Promise<void> {
    const lib = rdkafka();
    const code = lib.rd_kafka_event_error(ev);
    // The list belongs to the event: valid until the caller destroys it, i.e. across the awaits below.
    const list = lib.rd_kafka_event_topic_partition_list(ev) as number;
    const partitions = readTpList(list).map(({ topic, partition }) => ({ topic, partition }));
    const cooperative = String(lib.rd_kafka_rebalance_protocol(this.rk)) === "COOPERATIVE";
    const protocol = cooperative ? "cooperative" : "eager";

    if (code === ERR_ASSIGN_PARTITIONS) {
      this.everAssigned = true;
      if (cooperative) checkErrorPtr(lib.rd_kafka_incremental_assign(this.rk, list), "incremental_assign");
      else {
        check(lib.rd_kafka_assign(this.rk, list), "assign");
        this.owned.clear();
      }
      for (const p of partitions) this.owned.set(tpKey(p.topic, p.partition), p);
      await this.hooks.notify({ protocol, type: "assigned", partitions });
      return;
    }

    if (code === ERR_REVOKE_PARTITIONS) {
      const lost = lib.rd_kafka_assignment_lost(this.rk) !== 0;
      const keys = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
      this.hooks.dropPartitions(keys);
      await this.hooks.notify({ protocol, type: "revoked", partitions, ...(lost ? { lost } : {}) });
      if (cooperative) checkErrorPtr(lib.rd_kafka_incremental_unassign(this.rk, list), "incremental_unassign");
      else check(lib.rd_kafka_assign(this.rk, null), "unassign");
      for (const k of keys) this.owned.delete(k);
      return;
    }

    // A rebalance error: drop the whole assignment (librdkafka rejoins) and report it. assign(NULL)
    // unassigns everything under either protocol.
    this.hooks.dropAll();
    lib.rd_kafka_assign(this.rk, null);
    this.owned.clear();
    this.hooks.onError(errFromCode(code, "rebalance"));
  }
}
