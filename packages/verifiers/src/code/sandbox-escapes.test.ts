import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { detectSandboxIsolation } from "./environment.js";
import { type ProgramTestOutcome, runProgramTests } from "./run-program-tests.js";

/** One assert test against `program` (Python unless stated); returns its outcome. */
async function runOne(params: {
  program: string;
  test: string;
  language?: "python" | "javascript" | "typescript";
  wallSeconds?: number;
  memoryMegabytes?: number;
}): Promise<ProgramTestOutcome> {
  const result = await runProgramTests({
    program: params.program,
    language: params.language ?? "python",
    tests: [{ kind: "assert", code: params.test }],
    limits: {
      wallSeconds: params.wallSeconds ?? 3,
      ...(params.memoryMegabytes === undefined ? {} : { memoryMegabytes: params.memoryMegabytes }),
    },
  });
  const outcome = result.outcomes[0];
  if (outcome === undefined) throw new Error("no outcome");
  return outcome;
}

function processesWithArgument(argument: string): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").includes(argument)) count += 1;
    } catch {
      // the process ended while we looked
    }
  }
  return count;
}

const isolation = await detectSandboxIsolation();

describe("python sandbox: honest baseline", () => {
  it("passes a correct program and counts the assertions that ran", async () => {
    const outcome = await runOne({
      program: "def add(a, b):\n    return a + b",
      test: "assert add(1, 2) == 3\nassert add(2, 2) == 4",
    });
    expect(outcome).toMatchObject({
      passed: true,
      reason: "ok",
      assertions: 2,
      timedOut: false,
      exitCode: 0,
    });
  });

  it("runs HumanEval-style check functions with tolerance asserts", async () => {
    const test =
      "def check(candidate):\n    assert abs(candidate(1.5) - 3.0) < 1e-6\n    assert candidate(0) == 0\n\ncheck(double)";
    const outcome = await runOne({ program: "def double(x):\n    return x * 2", test });
    expect(outcome).toMatchObject({ passed: true, assertions: 2 });
  });

  it("accepts generators, map objects and stdlib values returned by the program", async () => {
    const program =
      "from fractions import Fraction\nfrom collections import OrderedDict\ndef evens(n):\n    return (i for i in range(n) if i % 2 == 0)\ndef doubled(xs):\n    return map(lambda x: 2 * x, xs)\ndef half():\n    return Fraction(1, 2)\ndef ordered():\n    return OrderedDict(a=1)";
    const test =
      "assert list(evens(5)) == [0, 2, 4]\nassert sorted(doubled([2, 1])) == [2, 4]\nassert half() == 0.5\nassert ordered() == {'a': 1}";
    expect(await runOne({ program, test })).toMatchObject({ passed: true, assertions: 4 });
  });

  it("fails a wrong program with the assertion's message", async () => {
    const outcome = await runOne({
      program: "def add(a, b):\n    return a - b",
      test: "assert add(1, 2) == 3, 'one plus two'",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
    expect(outcome.detail).toContain("one plus two");
  });

  it("reports a syntax error in the program", async () => {
    const outcome = await runOne({
      program: "def add(a, b)\n    return a + b",
      test: "assert add(1, 2) == 3",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "program_syntax_error" });
  });

  it("runs in a private, empty temporary directory that does not outlive the run", async () => {
    const program =
      "import os\nCWD = os.getcwd()\nENTRIES = os.listdir(CWD)\nHOME = os.environ.get('HOME')\nopen('left-behind-7d1e', 'w').write('x')";
    const outcome = await runOne({
      program,
      test: "assert ENTRIES == [] and HOME == CWD\nraise RuntimeError(CWD)",
    });
    expect(outcome).toMatchObject({ reason: "test_error", assertions: 1 });
    const directory = outcome.detail.replace(/^RuntimeError: /, "");
    expect(directory).toMatch(isolation.privateTemporaryMounts ? /^\/tmp$/ : /posttrain-sandbox-/);
    expect(existsSync(`${directory}/left-behind-7d1e`)).toBe(false);
  });

  it.skipIf(!isolation.privateTemporaryMounts)("gives each run its own /tmp and /dev/shm", async () => {
    const program =
      "import os\nfor d in ('/tmp', '/dev/shm'):\n    open(os.path.join(d, 'shared-9c4a'), 'w').write('x')";
    expect(await runOne({ program, test: "assert True" })).toMatchObject({ passed: true });
    expect(existsSync("/tmp/shared-9c4a") || existsSync("/dev/shm/shared-9c4a")).toBe(false);
    const second = await runOne({
      program: "import os\nSEEN = os.path.exists('/tmp/shared-9c4a')",
      test: "assert SEEN is False",
    });
    expect(second.passed).toBe(true);
  });
});

describe("python sandbox: each escape fails", () => {
  const add = "def add(a, b):\n    return a + b\n";

  it("sys.exit(0) before the asserts", async () => {
    const outcome = await runOne({
      program: `import sys\nsys.exit(0)\n${add}`,
      test: "assert add(1, 2) == 3",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "program_exited_before_tests" });
  });

  it("os._exit(0) before the asserts (the referee sees the program's process end)", async () => {
    const outcome = await runOne({ program: "import os\nos._exit(0)", test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "program_exited_before_tests" });
  });

  it("os._exit(0) from inside the tested function", async () => {
    const outcome = await runOne({
      program: "import os\ndef add(a, b):\n    os._exit(0)",
      test: "assert add(1, 2) == 3",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "exited_during_tests" });
  });

  it("SystemExit(0) raised from inside the tested function", async () => {
    const outcome = await runOne({
      program: "def add(a, b):\n    raise SystemExit(0)",
      test: "assert add(1, 2) == 3",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "exited_during_tests" });
  });

  it("redefining AssertionError (builtins and module level)", async () => {
    const program =
      "import builtins\nclass Quiet(Exception):\n    pass\nbuiltins.AssertionError = Quiet\nAssertionError = Quiet\ndef add(a, b):\n    return 0";
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
  });

  it("an object whose __eq__ always returns True", async () => {
    const program =
      "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\ndef add(a, b):\n    return Anything()";
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "untrusted_value" });
  });

  it("the same hack nested inside a list, and on the left of `in`", async () => {
    const program =
      "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\ndef pair():\n    return [1, Anything()]";
    expect(await runOne({ program, test: "assert pair() == [1, 2]" })).toMatchObject({
      passed: false,
      reason: "untrusted_value",
    });
    expect(await runOne({ program, test: "assert pair()[1] in [5, 6]" })).toMatchObject({
      passed: false,
      reason: "untrusted_value",
    });
  });

  it("a metaclass that makes the class object pose as int (rigged __eq__/__hash__)", async () => {
    const program = [
      "class Pose(type):",
      "    def __eq__(cls, other):",
      "        return True",
      "    def __hash__(cls):",
      "        return hash(int)",
      "class Anything(metaclass=Pose):",
      "    def __eq__(self, other):",
      "        return True",
      "    __hash__ = object.__hash__",
      "def add(a, b):",
      "    return Anything()",
    ].join("\n");
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "untrusted_value" });
  });

  it("re-patching builtins from inside the tested call does not reach the harness", async () => {
    const program =
      "import builtins\ndef add(a, b):\n    builtins.zip = lambda *args: iter(())\n    builtins.memoryview = lambda line: memoryview(line.replace(b' failed ', b' passed '))\n    builtins.dict = list\n    return 0";
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
    const nested =
      "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\ndef table():\n    import builtins\n    builtins.dict = list\n    return {'a': Anything()}";
    expect(await runOne({ program: nested, test: "assert table() == {'a': 3}" })).toMatchObject({
      passed: false,
      reason: "untrusted_value",
    });
  });

  it("a subclass of int with a rigged __eq__", async () => {
    const program =
      "class Sneaky(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\ndef add(a, b):\n    return Sneaky(0)";
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "untrusted_value" });
  });

  it("arithmetic and abs() rigged to return 0", async () => {
    const program =
      "class Zero:\n    def __sub__(self, other):\n        return self\n    def __abs__(self):\n        return 0.0\ndef area(r):\n    return Zero()";
    const outcome = await runOne({ program, test: "assert abs(area(1) - 3.14159) < 1e-3" });
    expect(outcome).toMatchObject({ passed: false, reason: "untrusted_value" });
  });

  it("a rigged truth value", async () => {
    const program =
      "class Yes:\n    def __bool__(self):\n        return True\ndef is_even(n):\n    return Yes()";
    expect(await runOne({ program, test: "assert is_even(3)" })).toMatchObject({
      passed: false,
      reason: "untrusted_value",
    });
    expect(await runOne({ program, test: "assert not is_even(2)" })).toMatchObject({
      passed: false,
      reason: "untrusted_value",
    });
  });

  it("monkeypatched builtins do not reach the test", async () => {
    const program =
      "import builtins\nbuiltins.abs = lambda value: 0\nbuiltins.len = lambda value: 3\nbuiltins.sorted = lambda value: [1, 2, 3]\ndef add(a, b):\n    return a - b";
    const outcome = await runOne({
      program,
      test: "assert abs(add(1, 2) - 3) < 1e-9 or len(str(add(1, 1))) == 3 or sorted([add(1, 1)]) == [1, 2, 3]",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
  });

  it("the tests are nowhere the program can read them (files, argv, environment)", async () => {
    const marker = "UNIQUE_TEST_MARKER_5f2c";
    const program = [
      "import glob, os",
      "found = False",
      "for path in glob.glob('**/*', recursive=True) + ['/proc/self/cmdline', '/proc/self/environ']:",
      "    try:",
      "        with open(path, 'rb') as handle:",
      `            found = found or b'${marker}' in handle.read()`,
      "    except OSError:",
      "        pass",
      "LEAKED = found",
    ].join("\n");
    const outcome = await runOne({ program, test: `assert LEAKED is False  # ${marker}` });
    expect(outcome).toMatchObject({ passed: true, reason: "ok" });
  });

  it("printing success lines and forging reports on every descriptor", async () => {
    const program =
      "import os\nfor fd in range(1, 10):\n    try:\n        os.write(fd, b'passed 1 ok -\\nPASS\\n')\n    except OSError:\n        pass\nos._exit(0)";
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "protocol_error" });
  });

  it("a pass-only body", async () => {
    const outcome = await runOne({ program: "def add(a, b):\n    pass", test: "assert add(1, 2) == 3" });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
  });

  it("a test whose asserts never run does not pass", async () => {
    const outcome = await runOne({
      program: add,
      test: "def check(candidate):\n    assert candidate(1, 2) == 3\n",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "no_assertion_ran" });
  });

  it("an infinite loop is killed at the wall limit", async () => {
    const outcome = await runOne({ program: "while True:\n    pass", test: "assert True", wallSeconds: 1 });
    expect(outcome).toMatchObject({ passed: false, reason: "timeout", timedOut: true });
  });

  it("unbounded output is cut and the process killed", async () => {
    const outcome = await runOne({
      program: "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
      test: "assert True",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "output_limit_exceeded" });
  });

  it("memory beyond the address-space limit fails", async () => {
    const outcome = await runOne({
      program: "BLOCK = bytearray(600 * 1024 * 1024)",
      test: "assert len(BLOCK) > 0",
      memoryMegabytes: 256,
    });
    expect(outcome.passed).toBe(false);
    expect(["program_error", "killed"]).toContain(outcome.reason);
  });

  it("a fork bomb is contained and the sandbox still works afterwards", async () => {
    const program = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass";
    const outcome = await runOne({ program, test: "assert True", wallSeconds: 1.5 });
    expect(outcome.passed).toBe(false);
    const after = await runOne({ program: add, test: "assert add(2, 3) == 5" });
    expect(after.passed).toBe(true);
  });

  it("background processes, even in a new session, are killed with the test", async () => {
    const marker = "41.123457";
    const program = `import subprocess\nsubprocess.Popen(['sleep', '${marker}'], start_new_session=True)\n${add}`;
    const outcome = await runOne({ program, test: "assert add(1, 2) == 3" });
    expect(outcome.passed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(processesWithArgument(marker)).toBe(0);
  });

  it.skipIf(!isolation.userSwitch)("runs as an unprivileged user id", async () => {
    const outcome = await runOne({ program: "import os\nUID = os.getuid()", test: "assert UID != 0" });
    expect(outcome.passed).toBe(true);
  });

  it.skipIf(!isolation.networkNamespace)("has no network, not even loopback to the host", async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const program = `import socket\ntry:\n    socket.create_connection(('127.0.0.1', ${port}), timeout=1).close()\n    CONNECTED = True\nexcept OSError:\n    CONNECTED = False`;
      const outcome = await runOne({ program, test: "assert CONNECTED is False" });
      expect(outcome.passed).toBe(true);
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe("stdio tests", () => {
  it("compares stdout line by line and requires a clean exit", async () => {
    const result = await runProgramTests({
      program: "a, b = map(int, input().split())\nprint(a + b, '  ')\nimport sys\nsys.exit(0)",
      language: "python",
      tests: [
        { kind: "stdio", input: "1 2\n", output: "3" },
        { kind: "stdio", input: "5 5\n", output: "11" },
        { kind: "stdio", input: "x\n", output: "" },
      ],
    });
    expect(result.outcomes.map((outcome) => [outcome.passed, outcome.reason])).toEqual([
      [true, "ok"],
      [false, "wrong_output"],
      [false, "program_error"],
    ]);
    expect(result.score).toBeCloseTo(1 / 3);
  });
});

describe("javascript and typescript programs", () => {
  it("runs a JavaScript program against assert tests and stdio tests", async () => {
    const program = "function add(a, b) { return a + b; }\nif (require.main === undefined) {}\n";
    const result = await runProgramTests({
      program,
      language: "javascript",
      tests: [
        {
          kind: "assert",
          code: "assert.strictEqual(add(1, 2), 3);\nassert.deepStrictEqual([add(1, 1)], [2]);",
        },
        { kind: "assert", code: "assert.strictEqual(add(1, 2), 4);" },
      ],
    });
    expect(result.outcomes.map((outcome) => [outcome.passed, outcome.reason, outcome.assertions])).toEqual([
      [true, "ok", 2],
      [false, "assertion_failed", 0],
    ]);
  });

  it("process.exit(0) before the test does not pass", async () => {
    const outcome = await runOne({
      program: "process.exit(0);",
      test: "assert.strictEqual(add(1, 2), 3);",
      language: "javascript",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "program_exited_before_tests" });
  });

  it("patching node:assert or the global assert does not reach the test", async () => {
    const program =
      "const a = require('node:assert');\na.strictEqual = () => {};\nglobalThis.assert = { strictEqual() {} };\nfunction add(x, y) { return x - y; }";
    const outcome = await runOne({
      program,
      test: "assert.strictEqual(add(1, 2), 3);",
      language: "javascript",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
  });

  it("patching Promise.prototype.then or RegExp.prototype.test does not skip the test", async () => {
    const program =
      "Promise.prototype.then = function (ok) { ok(); return this; };\nRegExp.prototype.test = () => false;\nfunction add(x, y) { return 0; }";
    const outcome = await runOne({
      program,
      test: "assert.strictEqual(add(1, 2), 3);",
      language: "javascript",
    });
    expect(outcome).toMatchObject({ passed: false, reason: "assertion_failed" });
  });

  it("an infinite JavaScript loop is killed at the wall limit", async () => {
    const outcome = await runOne({
      program: "for (;;) {}",
      test: "assert.ok(true);",
      language: "javascript",
      wallSeconds: 1,
    });
    expect(outcome).toMatchObject({ passed: false, reason: "timeout", timedOut: true });
  });

  it("transpiles TypeScript programs and tests", async () => {
    const program =
      "interface Pair { a: number; b: number }\nfunction add(pair: Pair): number { return pair.a + pair.b; }";
    const outcome = await runOne({
      program,
      test: "const total: number = add({ a: 1, b: 2 });\nassert.strictEqual(total, 3);",
      language: "typescript",
    });
    expect(outcome).toMatchObject({ passed: true, assertions: 1 });
    const broken = await runOne({
      program: "function add(a: number, b: number { return a + b }",
      test: "assert.ok(true);",
      language: "typescript",
    });
    expect(broken).toMatchObject({ passed: false, reason: "program_syntax_error" });
  });

  it("JavaScript stdio programs read stdin", async () => {
    const result = await runProgramTests({
      program:
        "const text = require('fs').readFileSync(0, 'utf8');\nconsole.log(text.trim().split(/\\s+/).map(Number).reduce((x, y) => x + y, 0));",
      language: "javascript",
      tests: [{ kind: "stdio", input: "2 3 4\n", output: "9\n" }],
    });
    expect(result.score).toBe(1);
  });
});

describe("reference code environment (issue 15 item 3)", () => {
  it("the sandbox's Python has pytest and numpy (Debian python3-pytest, python3-numpy)", async () => {
    const outcome = await runOne({
      program: "import numpy as np\nimport pytest\ndef total(xs):\n    return np.array(xs).sum()",
      test: "import pytest\nassert total([1, 2, 3]) == 6\nwith pytest.raises(ZeroDivisionError):\n    1 / 0",
    });
    expect(outcome, outcome.stderrTail).toMatchObject({ passed: true, mode: "boundary" });
  });

  it("a missing module is reported as missing_module (program and test)", async () => {
    expect(
      await runOne({ program: "import no_such_module_3f1\ndef f():\n    return 1", test: "assert f() == 1" }),
    ).toMatchObject({ passed: false, reason: "missing_module" });
    expect(
      await runOne({ program: "def f():\n    return 1", test: "import no_such_module_3f1\nassert f() == 1" }),
    ).toMatchObject({ passed: false, reason: "missing_module" });
  });
});

describe("the value boundary", () => {
  it("runs tests that need program-defined classes in-process, flagged", async () => {
    const program =
      "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n    def __eq__(self, other):\n        return (self.x, self.y) == (other.x, other.y)\ndef origin():\n    return Point(0, 0)";
    expect(await runOne({ program, test: "assert origin() == Point(0, 0)" })).toMatchObject({
      passed: true,
      mode: "in_process",
    });
    const strict = await runProgramTests({
      program,
      language: "python",
      tests: [{ kind: "assert", code: "assert origin() == Point(0, 0)" }],
      inProcessFallback: false,
    });
    expect(strict.outcomes[0]).toMatchObject({ passed: false, reason: "needs_in_process" });
  });

  it("carries in-place changes of list arguments and builtin exceptions across", async () => {
    const outcome = await runOne({
      program:
        "def push(xs):\n    xs.append(3)\ndef check(n):\n    if n < 0:\n        raise ValueError('negative')\n    return n",
      test: "xs = [1]\npush(xs)\nassert xs == [1, 3]\ntry:\n    check(-1)\n    assert False\nexcept ValueError:\n    pass",
    });
    expect(outcome).toMatchObject({ passed: true, mode: "boundary", assertions: 1 });
  });

  it("round-trips big ints, inf/nan, bytes, sets, tuples and dicts as plain values", async () => {
    const outcome = await runOne({
      program:
        "def values():\n    return [2 ** 200, float('inf'), b'\\x00\\xff', {1, 2}, (1, 'a'), {'k': [None, True]}, frozenset([3])]\ndef nan():\n    return float('nan')",
      test: "v = values()\nassert v == [2 ** 200, float('inf'), b'\\x00\\xff', {1, 2}, (1, 'a'), {'k': [None, True]}, frozenset([3])]\nassert type(v[4]) is tuple\nx = nan()\nassert x != x",
    });
    expect(outcome).toMatchObject({ passed: true, mode: "boundary", assertions: 3 });
  });
});

describe("the JavaScript value boundary", () => {
  it("refuses objects that are not plain data and a value whose valueOf is rigged", async () => {
    const outcome = await runOne({
      program:
        "class Anything { valueOf() { return 3; } }\nfunction add(a, b) { return new Anything(); }\nfunction sneaky() { return new Proxy({}, { get: () => 3 }); }",
      test: "assert.ok(add(1, 2) == 3);",
      language: "javascript",
    });
    expect(outcome).toMatchObject({ passed: false, mode: "boundary", reason: "untrusted_value" });
  });

  it("passes plain values, in-place array changes and builtin errors across", async () => {
    const outcome = await runOne({
      program:
        "function pairs(n) { return { n, list: [n, 2n ** 70n, -0, NaN], map: new Map([[1, 'a']]) }; }\nfunction push(xs) { xs.push(3); }\nfunction check(n) { if (n < 0) throw new RangeError('negative'); return n; }",
      test: "assert.deepStrictEqual(pairs(1), { n: 1, list: [1, 2n ** 70n, -0, NaN], map: new Map([[1, 'a']]) });\nconst xs = [1];\npush(xs);\nassert.deepStrictEqual(xs, [1, 3]);\nassert.throws(() => check(-1), RangeError);",
      language: "javascript",
    });
    expect(outcome).toMatchObject({ passed: true, mode: "boundary", assertions: 3 });
  });

  it("a test that constructs a program-defined class falls back to in-process, flagged", async () => {
    const outcome = await runOne({
      program:
        "class Point { constructor(x, y) { this.x = x; this.y = y; } }\nfunction origin() { return new Point(0, 0); }",
      test: "assert.deepStrictEqual(origin(), new Point(0, 0));",
      language: "javascript",
    });
    expect(outcome).toMatchObject({ passed: true, mode: "in_process" });
  });
});
