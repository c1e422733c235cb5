export type { RestartBackoff } from "./backoff.ts";
export { assertLoopbackHost, bearerTokenGuard } from "./bearer-guard.ts";
export { type FaultResult, SupervisorClient } from "./client.ts";
export { type ControlApiOptions, createControlApi, FaultRequestSchema } from "./control-api.ts";
export { isSupervisorError, SupervisorError, type SupervisorErrorCode } from "./errors.ts";
export { aborted, withProcessSignals } from "./process-signals.ts";
export { ProcessSpecSchema, readProcessSpecs } from "./spec-file.ts";
export {
  DEFAULT_STATE_FILE,
  readStateFile,
  removeStateFile,
  type SupervisorStateFile,
  writeStateFile,
} from "./state-file.ts";
export { Supervisor, type SupervisorOptions } from "./supervisor.ts";
export type {
  ExitInfo,
  ProcessFault,
  ProcessSpec,
  ProcessState,
  ProcessStatus,
  ProcessTarget,
  RestartReason,
  SupervisorEvents,
  SupervisorLogger,
} from "./types.ts";
