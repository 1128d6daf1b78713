import { describe, expect, it } from "vitest";
import { callTool } from "./call-tool.js";
import { createPythonTool } from "./python.js";
import { createToolRegistry } from "./registry.js";
import type { Tool } from "./types.js";

const registry = createToolRegistry({ tools: [createPythonTool() as Tool<unknown>] });
const limits = { timeoutMilliseconds: 20_000, maxOutputCharacters: 2000 };
const run = (code: string, overrides: Partial<typeof limits> = {}) =>
  callTool({ registry, call: { name: "python", arguments: { code } }, limits: { ...limits, ...overrides } });

describe("python tool (the verifiers' code sandbox, one program per call)", () => {
  it("returns stdout", async () => {
    const observation = await run("x = 6 * 7\nprint(x)\nprint(sum(range(10)))");
    expect(observation).toMatchObject({ tool: "python", output: "42\n45\n", error: null, errorKind: null });
  });

  it("returns the traceback of a failing program as the error, with the output before it", async () => {
    const observation = await run("print('before')\n1/0");
    expect(observation.output).toBe("before\n");
    expect(observation.errorKind).toBe("tool_failed");
    expect(observation.error).toContain("ZeroDivisionError: division by zero");
    const syntax = await run("def f(:\n  pass");
    expect(syntax.error).toContain("SyntaxError");
  });

  it("keeps no state between calls (each call is a fresh process)", async () => {
    await run("import builtins\nbuiltins.secret = 41\nopen('state.txt', 'w').write('41')");
    const second = await run(
      "import builtins, os\nprint(getattr(builtins, 'secret', 'none'), os.path.exists('state.txt'))",
    );
    expect(second.output).toBe("none False\n");
  });

  it("an empty program is an error observation (open-instruct's message)", async () => {
    const observation = await run("   ");
    expect(observation.error).toBe("Empty code. Please provide some code to execute.");
  });
});
