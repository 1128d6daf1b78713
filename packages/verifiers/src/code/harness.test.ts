import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { javascriptInProcessHarness, pythonHarness } from "./harness.js";

/** Runs `code` after the harness's definitions (not its main) in a plain python3; returns stdout. */
function runWithHarness(code: string): string {
  const definitions = pythonHarness.slice(0, pythonHarness.lastIndexOf("_ptg_main()"));
  return execFileSync("python3", ["-I", "-c", `${definitions}\n${code}`], { encoding: "utf8" }).trim();
}

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

  it.skipIf(!hasPython() || process.getuid?.() !== 0 || !["x64", "arm64"].includes(process.arch))(
    "E8: the seccomp filter alone refuses new user namespaces (the chroot refuses them too)",
    () => {
      const attempt = [
        "import ctypes, os",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "def try_userns():",
        "    if os.fork() == 0:",
        "        os._exit(0 if libc.unshare(0x10000000) == 0 else ctypes.get_errno())",
        "    return os.waitstatus_to_exitcode(os.wait()[1])",
        "before = try_userns()",
        "assert libc.prctl(38, 1, 0, 0, 0) == 0",
        "assert _ptg_seccomp(libc, ctypes)",
        "print(before, try_userns())",
      ].join("\n");
      // 0: allowed before the filter (root, no chroot); 1 = EPERM after it.
      expect(runWithHarness(attempt)).toBe("0 1");
    },
  );
});
