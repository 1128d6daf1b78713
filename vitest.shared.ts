// Shared vitest settings: tests import workspace packages from their TypeScript
// sources (the "@posttrain/source" export condition), so a test run never needs a
// stale dist/ of a sibling package.
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@posttrain/source"] },
  ssr: { resolve: { conditions: ["@posttrain/source"] } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
