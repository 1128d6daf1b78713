#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184 node
// The `posttrain` command from a checkout: the root package.json's `bin`, so `npx posttrain …`
// (or `npm exec posttrain -- …`) run anywhere inside the repository, with no install and no
// network, runs the built CLI (packages/cli/dist/bin.js). The allocator settings are the CLI's
// own (see packages/cli/src/bin.ts). Git keeps this file executable, which npx needs.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bin = new URL("../packages/cli/dist/bin.js", import.meta.url);
if (!existsSync(fileURLToPath(bin))) {
  process.stderr.write(
    `posttrain: the CLI is not built (${fileURLToPath(bin)} is missing); run \`npm start\` or \`node scripts/setup.mjs\` in the repository first\n`,
  );
  process.exit(1);
}
// The CLI is the entry point: runs record its path and version (provenance), not npx's shim.
process.argv[1] = fileURLToPath(bin);
await import(bin.href);
