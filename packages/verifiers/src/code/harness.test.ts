import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { javascriptInProcessHarness, pythonHarness } from "./harness.js";

const harnessDirectory = fileURLToPath(new URL("./harness/", import.meta.url));

function hasPython(): boolean {
  try {
    execFileSync("python3", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("the harness files (issue 17 item 4)", () => {
  it.skipIf(!hasPython())("every .py harness is valid Python (py_compile, no bytecode written)", () => {
    const check =
      "import ast, sys\nfor path in sys.argv[1:]:\n    ast.parse(open(path).read(), path)\nprint('ok')";
    const output = execFileSync(
      "python3",
      ["-c", check, `${harnessDirectory}python-harness.py`, `${harnessDirectory}python-in-process.py`],
      { encoding: "utf8" },
    );
    expect(output.trim()).toBe("ok");
  });

  it("loads the harnesses at module load (the Python one ends by calling main)", () => {
    expect(pythonHarness).toContain("def _ptg_referee(");
    expect(pythonHarness).toContain("def _ptg_in_process(");
    expect(pythonHarness.trimEnd().endsWith("_ptg_main()")).toBe(true);
    expect(() => new Function(javascriptInProcessHarness)).not.toThrow();
  });
});
