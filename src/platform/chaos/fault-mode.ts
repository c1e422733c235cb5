/** Fault mode is on with an explicit flag or BULWARK_CHAOS_ENABLED=1 (or true); everything chaos is off otherwise. */
export function faultModeEnabled(flag: boolean, env: NodeJS.ProcessEnv): boolean {
  return flag || env.BULWARK_CHAOS_ENABLED === "1" || env.BULWARK_CHAOS_ENABLED === "true";
}
