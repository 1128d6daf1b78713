import { readFileSync } from "node:fs";

/**
 * The trusted harnesses, real `.py` / `.js` files next to this module (copied into dist by
 * the build), read once at module load and passed to the interpreter with `-c` / `-e`, so
 * the program never finds them as files in its sandbox.
 */
function harnessFile(name: string): string {
  return readFileSync(new URL(`./harness/${name}`, import.meta.url), "utf8");
}

/** The Python harness: isolation, the value boundary (program server + referee), stdio, in-process fallback. */
export const pythonHarness = `${harnessFile("python-harness.py")}\n${harnessFile("python-in-process.py")}\n_ptg_main()\n`;

/** The JavaScript in-process referee (run with `node -e` by the Python harness after isolation); stdio too. */
export const javascriptInProcessHarness = harnessFile("javascript-in-process.js");

const javascriptChannel = harnessFile("javascript-channel.js");

/** The JavaScript program's process of the value boundary (channel helpers prepended). */
export const javascriptProgramHarness = `"use strict";\n${javascriptChannel}\n${harnessFile("javascript-program.js")}`;

/** The JavaScript referee of the value boundary (channel helpers prepended). */
export const javascriptRefereeHarness = `"use strict";\n${javascriptChannel}\n${harnessFile("javascript-referee.js")}`;
