import { defineConfig } from "vitest/config";

// Repository-wide checks that belong to no single package (layers, quick-start files).
export default defineConfig({
  test: {
    root: "scripts",
    include: ["**/*.test.ts"],
    exclude: ["fixtures/**", "**/node_modules/**"],
    testTimeout: 60_000,
  },
});
