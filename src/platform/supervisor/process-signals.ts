/**
 * Runs `work` with a signal that aborts when `parent` does or when this process gets SIGINT/SIGTERM, so Ctrl-C
 * reaches long-running commands (and experiment rollbacks) whoever owns the parent signal.
 */
export async function withProcessSignals<T>(
  parent: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const local = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => local.abort(new Error(`received ${signal}`));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work(AbortSignal.any([parent, local.signal]));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
