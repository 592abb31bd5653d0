/**
 * Which assigned partitions are paused, and why. Two independent reasons pause partitions:
 * backpressure (all assigned partitions, while the in-flight batch limit is reached) and a batch whose stage
 * is retrying (that batch's partitions, until the retry succeeds or the batch is abandoned). A partition is
 * paused while any reason holds; the controller applies only the difference to the consumer.
 *
 * Pausing is what stops librdkafka from fetching further ahead, and it is safe for exactness: on pause
 * librdkafka drops its prefetched messages for the partition and resumes fetching after the last message
 * handed to the application, so nothing is skipped.
 */
import type { TopicPartition } from "../../kafka/types.ts";
import { tpKey } from "./offset-tracker.ts";

/** The two consumer calls the controller needs. */
export interface Pausable {
  pause(tps: TopicPartition[]): unknown;
  resume(tps: TopicPartition[]): unknown;
}

/** The reason id for backpressure (pauses every assigned partition). */
export const ALL_PARTITIONS = "*";

/** Keeps the consumer's paused set equal to the union of the active pause reasons. */
export class PauseController {
  private readonly assigned = new Map<string, TopicPartition>();
  private readonly paused = new Map<string, TopicPartition>();
  /** reason -> partition keys (ALL_PARTITIONS: every assigned partition). */
  private readonly reasons = new Map<string, Set<string> | typeof ALL_PARTITIONS>();

  constructor(
    private readonly consumer: Pausable,
    private readonly onChange: (pausedCount: number) => void = () => {},
  ) {}

  /** Number of partitions currently paused. */
  get pausedCount(): number {
    return this.paused.size;
  }

  /** True when the partition is paused. */
  isPaused(tp: TopicPartition): boolean {
    return this.paused.has(tpKey(tp.topic, tp.partition));
  }

  /**
   * Adds newly assigned partitions; they are paused at once when an active reason covers them, and
   * explicitly resumed otherwise: librdkafka keeps a partition's application pause flag across an
   * unassign and a later re-assignment, so a partition revoked while paused would come back paused and
   * never be fetched.
   */
  addAssigned(tps: readonly TopicPartition[]): void {
    const fresh: TopicPartition[] = [];
    for (const tp of tps) {
      const k = tpKey(tp.topic, tp.partition);
      if (this.assigned.has(k)) continue;
      const copy = { topic: tp.topic, partition: tp.partition };
      this.assigned.set(k, copy);
      fresh.push(copy);
    }
    this.reconcile();
    const running = fresh.filter((tp) => !this.paused.has(tpKey(tp.topic, tp.partition)));
    if (running.length) this.consumer.resume(running);
  }

  /** Forgets revoked partitions (no resume call: they are no longer ours to resume). */
  removeRevoked(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const k = tpKey(tp.topic, tp.partition);
      this.assigned.delete(k);
      this.paused.delete(k);
    }
    this.reconcile();
  }

  /** Activates (or replaces) a pause reason covering `tps`, or every assigned partition with ALL_PARTITIONS. */
  hold(reason: string, tps: readonly TopicPartition[] | typeof ALL_PARTITIONS): void {
    this.reasons.set(reason, tps === ALL_PARTITIONS ? ALL_PARTITIONS : new Set(tps.map((tp) => tpKey(tp.topic, tp.partition))));
    this.reconcile();
  }

  /** Drops a pause reason; partitions no other reason covers are resumed. */
  release(reason: string): void {
    if (this.reasons.delete(reason)) this.reconcile();
  }

  /** True when a reason is active. */
  holds(reason: string): boolean {
    return this.reasons.has(reason);
  }

  private reconcile(): void {
    const want = new Set<string>();
    for (const r of this.reasons.values()) {
      if (r === ALL_PARTITIONS) for (const k of this.assigned.keys()) want.add(k);
      else for (const k of r) if (this.assigned.has(k)) want.add(k);
    }
    const toPause: TopicPartition[] = [];
    const toResume: TopicPartition[] = [];
    for (const k of want) if (!this.paused.has(k)) toPause.push(this.assigned.get(k)!);
    for (const [k, tp] of this.paused) if (!want.has(k)) toResume.push(tp);
    if (toPause.length === 0 && toResume.length === 0) {
      this.onChange(this.paused.size);
      return;
    }
    for (const tp of toPause) this.paused.set(tpKey(tp.topic, tp.partition), tp);
    for (const tp of toResume) this.paused.delete(tpKey(tp.topic, tp.partition));
    if (toPause.length) this.consumer.pause(toPause);
    if (toResume.length) this.consumer.resume(toResume);
    this.onChange(this.paused.size);
  }
}
