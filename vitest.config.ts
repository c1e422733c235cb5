import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Suites against shared real servers isolate themselves by schema/stream/key prefix,
    // so files may run in parallel; the machine has 2 cores.
    maxWorkers: 2,
  },
});
