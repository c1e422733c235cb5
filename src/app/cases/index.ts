import { analyticsCase } from "./analytics.ts";
import { bankingCase } from "./banking.ts";
import type { CaseModule } from "./case-module.ts";
import { commerceCase } from "./commerce.ts";

/** Every case study the app runs, in start order. Add a case here and it gets roles, ports, `up` and `check`. */
export const CASES: readonly CaseModule[] = [commerceCase, bankingCase, analyticsCase];

export function caseNamed(name: string): CaseModule | undefined {
  return CASES.find((c) => c.name === name);
}

export type { CaseModule, CheckResult, StartedCase } from "./case-module.ts";
