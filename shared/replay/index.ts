/**
 * Replay: re-run a time range of a topic, or a whole dead-letter topic, through a topology's stages under a
 * new consumer group; plus the offset-range reading the audit shares.
 */
export { topicPartitions, watermarksOf } from "../topic-reader/metadata.ts";
export { parseTimestamp, planReplay, type ReplayPlan, type ReplayWindow } from "./plan.ts";
export { offsetsAtTimes } from "./time-offsets.ts";
export { rangeSize, readRanges, type PartitionRange, type ReadRangesOptions } from "../topic-reader/range-reader.ts";
export { ENGINE_HEADER_PREFIX, REPLAY_WORKER_ID, runReplay, type ReplayOptions, type ReplayProgress, type ReplayResult } from "./replay.ts";
export { readTopicRanges, readWholeTopic, type ReadTopicOptions } from "../topic-reader/topic.ts";
