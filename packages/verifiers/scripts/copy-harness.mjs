// Copies the sandbox's trusted harnesses (real .py / .js files, read at module load by
// src/code/harness.ts) into dist, next to the compiled module that reads them.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";

const source = new URL("../src/code/harness/", import.meta.url);
const target = new URL("../dist/code/harness/", import.meta.url);
mkdirSync(target, { recursive: true });
for (const name of readdirSync(source)) {
  if (name.endsWith(".py") || name.endsWith(".js"))
    copyFileSync(new URL(name, source), new URL(name, target));
}
