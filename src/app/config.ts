import { type Static, Type } from "@sinclair/typebox";
import { AnalyticsConfigSchema } from "../cases/analytics/config.ts";
import { BankingConfigSchema } from "../cases/banking/config.ts";
import { CommerceConfigSchema } from "../cases/commerce/config.ts";
import { type LoadConfigOptions, loadConfig, PlatformConfigSchema } from "../platform/config/index.ts";
import { DependencyPolicyConfigSchema } from "../platform/resilience/index.ts";

/**
 * The application's configuration: the platform sections plus one section per case study.
 * This is the one schema `bulwark` validates at start.
 */
export const AppConfigSchema = Type.Composite(
  [
    PlatformConfigSchema,
    Type.Object({
      commerce: CommerceConfigSchema,
      banking: BankingConfigSchema,
      analytics: AnalyticsConfigSchema,
      resilience: Type.Record(Type.String(), DependencyPolicyConfigSchema, {
        default: {},
        description:
          "per outgoing dependency (e.g. payment-gateway): retry, breaker, timeout, bulkhead; replaces the built-in stack",
      }),
    }),
  ],
  { additionalProperties: false },
);

export type AppConfig = Static<typeof AppConfigSchema>;

export function loadAppConfig(options: LoadConfigOptions = {}): AppConfig {
  return loadConfig(AppConfigSchema, options);
}
