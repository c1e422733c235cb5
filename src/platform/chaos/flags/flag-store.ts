import { ChaosDisabledError, ChaosNotFoundError, ChaosValidationError } from "../errors.ts";
import { validate } from "../validate.ts";
import {
  type FailureFlag,
  type FailureFlagView,
  FaultSchemas,
  FlagBodySchema,
  type FlagFault,
  FlagIdSchema,
} from "./flag.ts";

export interface FailureFlagStoreOptions {
  /** Fault mode; while false, setting a flag throws and nothing is ever injected. */
  enabled: boolean;
  /** Decides `probability`; inject a seeded one for reproducible runs. */
  random?: () => number;
}

interface FlagState {
  flag: FailureFlag;
  hits: number;
}

/**
 * The HTTP-level faults Toxiproxy cannot express, kept in memory so the lab and tests can set them in-process
 * and the admin routes at run time. Flags apply in the order they were set.
 */
export class FailureFlagStore {
  readonly enabled: boolean;
  readonly #random: () => number;
  readonly #flags = new Map<string, FlagState>();

  constructor(options: FailureFlagStoreOptions) {
    this.enabled = options.enabled;
    this.#random = options.random ?? Math.random;
  }

  get size(): number {
    return this.#flags.size;
  }

  /** Creates or replaces flag `id`; the body is validated and bad fields named. */
  set(id: string, body: unknown): FailureFlagView {
    if (!this.enabled) throw new ChaosDisabledError("setting a failure flag");
    const checkedId = validate(FlagIdSchema, id, "flag id", "id");
    const base = validate(FlagBodySchema, body, "failure flag");
    const schema = FaultSchemas[base.fault.kind as keyof typeof FaultSchemas];
    if (!schema) {
      throw new ChaosValidationError("invalid failure flag", [
        { field: "fault.kind", message: `must be one of ${Object.keys(FaultSchemas).join(", ")}` },
      ]);
    }
    const fault = validate(schema, (body as { fault: unknown }).fault, "failure flag", "fault") as FlagFault;
    const flag: FailureFlag = {
      id: checkedId,
      method: base.method.toUpperCase(),
      route: base.route,
      probability: base.probability,
      fault,
    };
    this.#flags.set(checkedId, { flag, hits: 0 });
    return this.get(checkedId);
  }

  get(id: string): FailureFlagView {
    const state = this.#flags.get(id);
    if (!state) throw new ChaosNotFoundError(`failure flag ${id} not found`);
    return view(state);
  }

  list(): FailureFlagView[] {
    return [...this.#flags.values()].map(view);
  }

  delete(id: string): void {
    if (!this.#flags.delete(id)) throw new ChaosNotFoundError(`failure flag ${id} not found`);
  }

  clear(): void {
    this.#flags.clear();
  }

  /**
   * The faults to inject into one request, in order: any delays, then at most one terminal fault (error, abort,
   * or a fail_first that still has failures left). Counts the hit against each flag it returns.
   */
  decide(method: string, route: string | undefined, path: string): FlagFault[] {
    if (!this.enabled || this.#flags.size === 0) return [];
    const faults: FlagFault[] = [];
    for (const state of this.#flags.values()) {
      const { flag } = state;
      if (!matches(flag, method, route, path)) continue;
      if (flag.fault.kind === "fail_first" && state.hits >= flag.fault.count) continue;
      if (flag.probability < 1 && this.#random() >= flag.probability) continue;
      state.hits++;
      faults.push(flag.fault);
      if (flag.fault.kind !== "delay") break;
    }
    return faults;
  }
}

function matches(flag: FailureFlag, method: string, route: string | undefined, path: string): boolean {
  if (flag.method !== "*" && flag.method !== method) return false;
  if (flag.route === "*" || flag.route === route) return true;
  return flag.route.endsWith("/*") && `${path}/`.startsWith(flag.route.slice(0, -1));
}

function view({ flag, hits }: FlagState): FailureFlagView {
  return {
    ...flag,
    fault: { ...flag.fault },
    hits,
    ...(flag.fault.kind === "fail_first" ? { remaining: Math.max(0, flag.fault.count - hits) } : {}),
  };
}
