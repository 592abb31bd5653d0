/**
 * The librdkafka C functions the binding calls, as bun:ffi signatures. Every pointer is passed and returned
 * as "ptr" (a JS number); C strings we pass are NUL-terminated Buffers (see cstr.ts). Calls that block inside
 * librdkafka (metadata, committed, offsets_for_times, query_watermark_offsets) are only made from the
 * blocking-call worker (blocking.ts), never from the event loop thread.
 */
import { FFIType } from "bun:ffi";

// Sizes are passed as u64 (numbers are accepted) and returned as u64_fast (a number while it fits).
const { ptr, i32, i64_fast, u64, u64_fast, void: v, cstring } = FFIType;

export const RDKAFKA_SYMBOLS = {
  // library
  rd_kafka_version: { args: [], returns: i32 },
  rd_kafka_version_str: { args: [], returns: cstring },
  rd_kafka_err2name: { args: [i32], returns: cstring },
  rd_kafka_err2str: { args: [i32], returns: cstring },
  // configuration and handles
  rd_kafka_conf_new: { args: [], returns: ptr },
  rd_kafka_conf_set: { args: [ptr, ptr, ptr, ptr, u64], returns: i32 },
  rd_kafka_conf_set_events: { args: [ptr, i32], returns: v },
  rd_kafka_conf_destroy: { args: [ptr], returns: v },
  rd_kafka_new: { args: [i32, ptr, ptr, u64], returns: ptr },
  rd_kafka_destroy: { args: [ptr], returns: v },
  rd_kafka_destroy_flags: { args: [ptr, i32], returns: v },
  rd_kafka_fatal_error: { args: [ptr, ptr, u64], returns: i32 },
  // queues and events
  rd_kafka_queue_get_main: { args: [ptr], returns: ptr },
  rd_kafka_queue_get_consumer: { args: [ptr], returns: ptr },
  rd_kafka_queue_new: { args: [ptr], returns: ptr },
  rd_kafka_queue_destroy: { args: [ptr], returns: v },
  rd_kafka_queue_poll: { args: [ptr, i32], returns: ptr },
  rd_kafka_queue_io_event_enable: { args: [ptr, i32, ptr, u64], returns: v },
  rd_kafka_poll_set_consumer: { args: [ptr], returns: i32 },
  rd_kafka_event_type: { args: [ptr], returns: i32 },
  rd_kafka_event_destroy: { args: [ptr], returns: v },
  rd_kafka_event_message_next: { args: [ptr], returns: ptr },
  rd_kafka_event_message_array: { args: [ptr, ptr, u64], returns: u64_fast },
  rd_kafka_event_message_count: { args: [ptr], returns: u64_fast },
  rd_kafka_event_error: { args: [ptr], returns: i32 },
  rd_kafka_event_error_string: { args: [ptr], returns: cstring },
  rd_kafka_event_error_is_fatal: { args: [ptr], returns: i32 },
  rd_kafka_event_topic_partition_list: { args: [ptr], returns: ptr },
  rd_kafka_event_opaque: { args: [ptr], returns: ptr },
  // logs as events (log.queue=true): served from JS, never through a log callback on librdkafka's threads
  rd_kafka_set_log_queue: { args: [ptr, ptr], returns: i32 },
  rd_kafka_event_log: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  rd_kafka_name: { args: [ptr], returns: cstring },
  // rd_kafka_error_t
  rd_kafka_error_code: { args: [ptr], returns: i32 },
  rd_kafka_error_name: { args: [ptr], returns: cstring },
  rd_kafka_error_string: { args: [ptr], returns: cstring },
  rd_kafka_error_is_fatal: { args: [ptr], returns: i32 },
  rd_kafka_error_is_retriable: { args: [ptr], returns: i32 },
  rd_kafka_error_destroy: { args: [ptr], returns: v },
  // producer
  rd_kafka_topic_new: { args: [ptr, ptr, ptr], returns: ptr },
  rd_kafka_topic_destroy: { args: [ptr], returns: v },
  rd_kafka_topic_name: { args: [ptr], returns: ptr },
  rd_kafka_produceva: { args: [ptr, ptr, u64], returns: ptr },
  rd_kafka_outq_len: { args: [ptr], returns: i32 },
  rd_kafka_purge: { args: [ptr, i32], returns: i32 },
  // messages
  rd_kafka_message_timestamp: { args: [ptr, ptr], returns: i64_fast },
  rd_kafka_message_headers: { args: [ptr, ptr], returns: i32 },
  rd_kafka_header_get_all: { args: [ptr, u64, ptr, ptr, ptr], returns: i32 },
  rd_kafka_message_destroy: { args: [ptr], returns: v },
  // consumer
  rd_kafka_subscribe: { args: [ptr, ptr], returns: i32 },
  rd_kafka_unsubscribe: { args: [ptr], returns: i32 },
  rd_kafka_assign: { args: [ptr, ptr], returns: i32 },
  rd_kafka_incremental_assign: { args: [ptr, ptr], returns: ptr },
  rd_kafka_incremental_unassign: { args: [ptr, ptr], returns: ptr },
  rd_kafka_rebalance_protocol: { args: [ptr], returns: cstring },
  rd_kafka_assignment: { args: [ptr, ptr], returns: i32 },
  rd_kafka_assignment_lost: { args: [ptr], returns: i32 },
  rd_kafka_commit_queue: { args: [ptr, ptr, ptr, ptr, ptr], returns: i32 },
  rd_kafka_pause_partitions: { args: [ptr, ptr], returns: i32 },
  rd_kafka_resume_partitions: { args: [ptr, ptr], returns: i32 },
  rd_kafka_seek_partitions: { args: [ptr, ptr, i32], returns: ptr },
  rd_kafka_get_watermark_offsets: { args: [ptr, ptr, i32, ptr, ptr], returns: i32 },
  rd_kafka_consumer_close_queue: { args: [ptr, ptr], returns: ptr },
  rd_kafka_consumer_closed: { args: [ptr], returns: i32 },
  // blocking calls: only from the blocking-call worker
  rd_kafka_committed: { args: [ptr, ptr, i32], returns: i32 },
  rd_kafka_offsets_for_times: { args: [ptr, ptr, i32], returns: i32 },
  rd_kafka_query_watermark_offsets: { args: [ptr, ptr, i32, ptr, ptr, i32], returns: i32 },
  rd_kafka_metadata: { args: [ptr, i32, ptr, ptr, i32], returns: i32 },
  rd_kafka_metadata_destroy: { args: [ptr], returns: v },
  // topic-partition lists
  rd_kafka_topic_partition_list_new: { args: [i32], returns: ptr },
  rd_kafka_topic_partition_list_add: { args: [ptr, ptr, i32], returns: ptr },
  rd_kafka_topic_partition_list_destroy: { args: [ptr], returns: v },
  // admin
  rd_kafka_AdminOptions_new: { args: [ptr, i32], returns: ptr },
  rd_kafka_AdminOptions_set_opaque: { args: [ptr, ptr], returns: v },
  rd_kafka_AdminOptions_set_request_timeout: { args: [ptr, i32, ptr, u64], returns: i32 },
  rd_kafka_AdminOptions_set_operation_timeout: { args: [ptr, i32, ptr, u64], returns: i32 },
  rd_kafka_AdminOptions_destroy: { args: [ptr], returns: v },
  rd_kafka_NewTopic_new: { args: [ptr, i32, i32, ptr, u64], returns: ptr },
  rd_kafka_NewTopic_set_config: { args: [ptr, ptr, ptr], returns: i32 },
  rd_kafka_NewTopic_destroy: { args: [ptr], returns: v },
  rd_kafka_DeleteTopic_new: { args: [ptr], returns: ptr },
  rd_kafka_DeleteTopic_destroy: { args: [ptr], returns: v },
  rd_kafka_CreateTopics: { args: [ptr, ptr, u64, ptr, ptr], returns: v },
  rd_kafka_DeleteTopics: { args: [ptr, ptr, u64, ptr, ptr], returns: v },
  rd_kafka_event_CreateTopics_result: { args: [ptr], returns: ptr },
  rd_kafka_event_DeleteTopics_result: { args: [ptr], returns: ptr },
  rd_kafka_CreateTopics_result_topics: { args: [ptr, ptr], returns: ptr },
  rd_kafka_DeleteTopics_result_topics: { args: [ptr, ptr], returns: ptr },
  rd_kafka_topic_result_error: { args: [ptr], returns: i32 },
  rd_kafka_topic_result_error_string: { args: [ptr], returns: ptr },
  rd_kafka_topic_result_name: { args: [ptr], returns: cstring },
  // mock cluster (rdkafka_mock.h)
  rd_kafka_mock_cluster_new: { args: [ptr, i32], returns: ptr },
  rd_kafka_mock_cluster_destroy: { args: [ptr], returns: v },
  rd_kafka_mock_cluster_bootstraps: { args: [ptr], returns: cstring },
  rd_kafka_mock_topic_create: { args: [ptr, ptr, i32, i32], returns: i32 },
  rd_kafka_mock_broker_set_down: { args: [ptr, i32], returns: i32 },
  rd_kafka_mock_broker_set_up: { args: [ptr, i32], returns: i32 },
} as const;
