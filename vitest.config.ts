import { defineConfig } from "vitest/config";

// The whole test suite in one vitest run: every package's own vitest.config.ts is a
// project, plus the repository-wide checks in scripts/. `npm test` runs this.
export default defineConfig({
  test: {
    projects: ["packages/*", "recipes/*", "bench", "scripts/vitest.config.ts"],
  },
});
