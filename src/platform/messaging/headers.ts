/** Header names Bulwark reads and writes; user headers pass through untouched. */
export const HEADER = {
  traceparent: "traceparent",
  tracestate: "tracestate",
  /** JetStream's dedupe header; the message ID. */
  messageId: "Nats-Msg-Id",
  /**
   * `<version> <publishedAt> <type> <key>` in one header: each header costs microseconds to write and read
   * in nats.js, so the event type/version, key and publish time travel together (key last: it may hold spaces).
   */
  meta: "bwk-meta",
  dlqReason: "bwk-dlq-reason",
  dlqError: "bwk-dlq-error",
  dlqSourceTopic: "bwk-dlq-source-topic",
  dlqSourceOffset: "bwk-dlq-source-offset",
  dlqAttempts: "bwk-dlq-attempts",
} as const;
