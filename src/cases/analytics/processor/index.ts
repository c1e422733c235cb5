export { CHECKPOINT_NAMESPACE, CheckpointStore, checkpointMigrations } from "./checkpoints.ts";
export { PartitionTask, type PartitionTaskOptions } from "./partition-task.ts";
export { StreamProcessor, type StreamProcessorOptions } from "./stream-processor.ts";
