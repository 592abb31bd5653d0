/**
 * topofleet's Kafka binding: librdkafka over bun:ffi. Producer, Consumer, Admin, the in-process MockCluster,
 * and KafkaError. librdkafka is loaded on first use (RDKAFKA_LIB, else the system library).
 */
export { Producer } from "./producer/producer.ts";
export { Consumer, type CommitOptions } from "./consumer/consumer.ts";
export { detachMessage } from "./consumer/detach.ts";
export { Admin } from "./admin/admin.ts";
export { MockCluster, mockPartitionsFor, MOCK_PARTITION_MAX_BYTES, MOCK_PARTITION_MAX_MESSAGES, type MockClusterOptions } from "./mock/mock-cluster.ts";
export { KafkaError, isRetriableName, needsRejoin, type KafkaErrorCode, type KafkaOwnErrorCode, type DeliveryFailure } from "./errors.ts";
export { rdkafkaInfo } from "./ffi/lib.ts";
export { connectionProperties } from "./client/connection-properties.ts";
export { setKafkaLogger, type KafkaLogger } from "./client/log-sink.ts";
export type * from "./types.ts";
