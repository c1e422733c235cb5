export { bearerChallenge, bearerTokenOf } from "./bearer.ts";
export {
  currentDeadline,
  DEADLINE_HEADER,
  deadlineHeaderValue,
  parseDeadlineHeader,
  remainingMs,
} from "./deadline.ts";
export { stopOnSignals } from "./lifecycle.ts";
export {
  type FieldError,
  HttpProblem,
  isHttpProblem,
  PROBLEM_CONTENT_TYPE,
  type ProblemBody,
  sendProblem,
  validationProblem,
} from "./problem.ts";
export {
  createService,
  type ReadinessCheck,
  type Service,
  type ServiceApp,
  type ServiceExtension,
  type ServiceOptions,
} from "./service.ts";
export type { TypeBoxTypeProvider } from "./type-provider.ts";
