/** Header names Bulwark reads and writes; user headers pass through untouched. */
export const HEADER = {
  traceparent: "traceparent",
  tracestate: "tracestate",
  /** JetStream's dedupe header; the message ID. */
  messageId: "Nats-Msg-Id",
  type: "bwk-type",
  version: "bwk-version",
  key: "bwk-key",
  publishedAt: "bwk-published-at",
  dlqReason: "bwk-dlq-reason",
  dlqError: "bwk-dlq-error",
  dlqSourceTopic: "bwk-dlq-source-topic",
  dlqSourceOffset: "bwk-dlq-source-offset",
  dlqAttempts: "bwk-dlq-attempts",
} as const;
