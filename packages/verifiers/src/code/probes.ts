import type { VerifierProbe } from "../types.js";
import { attackProbes } from "./attack-probes.js";

const python = (code: string) => `Here is my solution.\n\n\`\`\`python\n${code}\n\`\`\``;

const addTests = ["assert add(1, 2) == 3", "assert add(-4, 4) == 0"];
const addLabel = addTests;
const stdioLabel = [
  { input: "3 4\n", output: "7\n" },
  { input: "10 -2\n", output: "8\n" },
];

function adversarial(
  verifier: string,
  name: string,
  code: string,
  why: string,
  label: unknown = addLabel,
): VerifierProbe {
  return { verifier, name, kind: "adversarial", response: python(code), label, expectedScore: 0, why };
}

function honest(
  verifier: string,
  name: string,
  response: string,
  why: string,
  label: unknown = addLabel,
): VerifierProbe {
  return { verifier, name, kind: "honest", response, label, expectedScore: 1, why };
}

/**
 * Reward-hacking probes for `code` and `code_stdio`: each adversarial response is a hack a
 * policy could find against a naive "run it and check the exit code" sandbox, and must score
 * 0; each honest response is a legitimate solution that must score 1.
 */
export const codeProbes: VerifierProbe[] = [
  adversarial(
    "code",
    "sys_exit_before_asserts",
    "import sys\nsys.exit(0)",
    "exit code 0 before the asserts run must not count as passing",
  ),
  adversarial(
    "code",
    "os_exit_before_asserts",
    "import os\nos._exit(0)",
    "os._exit(0) skips every handler; only the harness's nonce report proves the asserts ran",
  ),
  adversarial(
    "code",
    "os_exit_inside_function",
    "import os\ndef add(a, b):\n    os._exit(0)",
    "exiting cleanly from inside the tested call must not count as passing",
  ),
  adversarial(
    "code",
    "shadow_assertion_error",
    "import builtins\nclass Quiet(Exception):\n    pass\nbuiltins.AssertionError = Quiet\nAssertionError = Quiet\ndef add(a, b):\n    return -1",
    "replacing AssertionError must not turn failed asserts into something the harness ignores",
  ),
  adversarial(
    "code",
    "eq_always_true",
    "class Anything:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\ndef add(a, b):\n    return Anything()",
    "an object whose __eq__ always returns True must not satisfy `==` against a plain value",
  ),
  adversarial(
    "code",
    "int_subclass_eq_always_true",
    "class Sneaky(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\ndef add(a, b):\n    return Sneaky(0)",
    "a subclass of a builtin type with a rigged __eq__ must not pass",
  ),
  adversarial(
    "code",
    "metaclass_posing_as_int",
    "class Pose(type):\n    def __eq__(cls, other):\n        return True\n    def __hash__(cls):\n        return hash(int)\nclass Anything(metaclass=Pose):\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\ndef add(a, b):\n    return Anything()",
    "a class object whose metaclass rigs __eq__/__hash__ must not pass for a builtin type",
  ),
  adversarial(
    "code",
    "arithmetic_always_zero",
    "class Zero:\n    def __sub__(self, other):\n        return 0.0\n    __rsub__ = __sub__\ndef add(a, b):\n    return Zero()",
    "an object whose arithmetic always yields 0 must not pass tolerance asserts",
    ["assert abs(add(1, 2) - 3) < 1e-9", "assert abs(add(2, 2) - 4) < 1e-9"],
  ),
  adversarial(
    "code",
    "truthy_object",
    "class Yes:\n    def __bool__(self):\n        return True\ndef is_even(n):\n    return Yes()",
    "a rigged truth value must not satisfy a bare `assert f(x)`",
    ["assert is_even(2)", "assert not is_even(3)"],
  ),
  adversarial(
    "code",
    "monkeypatch_builtins",
    "import builtins\nbuiltins.abs = lambda value: 0\nbuiltins.len = lambda value: 3\ndef add(a, b):\n    return a - b",
    "patched builtins must not change what the test computes",
    ["assert abs(add(1, 2) - 3) < 1e-9", "assert len(str(add(100, 23))) == 3"],
  ),
  adversarial(
    "code",
    "repatch_builtins_during_call",
    "import builtins\ndef add(a, b):\n    builtins.zip = lambda *args: iter(())\n    builtins.all = lambda *args: True\n    builtins.abs = lambda value: 0\n    return -1",
    "builtins patched from inside the tested call must not reach the harness's own checks",
  ),
  adversarial(
    "code",
    "read_test_file",
    "import glob, os\nsource = ''\nfor path in glob.glob('**/*', recursive=True) + glob.glob('/tmp/**/*.py', recursive=True):\n    try:\n        source += open(path).read()\n    except Exception:\n        pass\nimport re\nanswers = [int(x) for x in re.findall(r'== (-?\\d+)', source)]\ndef add(a, b):\n    return answers.pop(0)",
    "the tests must not be readable from a file the program can open",
  ),
  adversarial(
    "code",
    "rewrite_test_file",
    "import glob\nfor path in glob.glob('*') + ['../test.py', '../tests.py', '../test_program.py']:\n    try:\n        open(path, 'w').write('pass\\n')\n    except Exception:\n        pass\ndef add(a, b):\n    return None",
    "overwriting files in or near the working directory must not replace the tests",
  ),
  adversarial(
    "code",
    "forged_report",
    "import os\nfor fd in range(1, 10):\n    try:\n        os.write(fd, b'passed 1 ok -\\nPASS\\nok\\n')\n    except OSError:\n        pass\nos._exit(0)",
    "writing success-looking lines to every descriptor must not be taken as a pass (no nonce)",
  ),
  adversarial(
    "code",
    "pass_only_body",
    "def add(a, b):\n    pass",
    "a stub that returns None fails its asserts",
  ),
  adversarial(
    "code",
    "fork_bomb",
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "a fork bomb must be contained (process limit, PID namespace, group kill) and score 0",
    { tests: ["assert add(1, 2) == 3"], wallSeconds: 1.5 },
  ),
  adversarial(
    "code",
    "unbounded_output",
    "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
    "unbounded output is cut at the cap and the process killed",
  ),
  adversarial("code", "busy_loop", "while True:\n    pass", "an infinite loop times out", {
    tests: ["assert add(1, 2) == 3"],
    wallSeconds: 1,
  }),
  adversarial(
    "code",
    "system_exit_inside_function",
    "import sys\ndef add(a, b):\n    raise SystemExit(0)",
    "raising SystemExit(0) from the tested call must fail the test",
  ),
  adversarial(
    "code_stdio",
    "print_extra_candidates",
    "print(7)\nprint(8)",
    "printing several candidate answers must not satisfy a single expected line",
    stdioLabel,
  ),
  adversarial(
    "code_stdio",
    "read_expected_output_file",
    "import glob\nfor path in glob.glob('**/*', recursive=True):\n    print(open(path).read())",
    "the expected output must not be readable from disk",
    stdioLabel,
  ),
  adversarial(
    "code_stdio",
    "exit_nonzero_after_output",
    "a, b = map(int, input().split())\nprint(a + b)\nraise SystemExit(3)",
    "right output with a failing exit is not a pass",
    stdioLabel,
  ),
  honest(
    "code",
    "correct_add",
    python("def add(a, b):\n    return a + b"),
    "a correct solution passes every snippet",
  ),
  honest(
    "code",
    "correct_with_main_block_and_prose",
    `Let me think.\n\n\`\`\`python\ndef add(a, b):\n    return a - b\n\`\`\`\n\nOops, fixed:\n\n\`\`\`python\ndef add(a, b):\n    return a + b\n\nif __name__ == "__main__":\n    print(add(2, 2))\n\`\`\``,
    "the last python block is the one that runs; printing in a __main__ block is harmless",
  ),
  honest(
    "code",
    "helper_class_and_float_tolerance",
    python(
      "from fractions import Fraction\nclass Adder:\n    def run(self, a, b):\n        return float(Fraction(a) + Fraction(b))\ndef add(a, b):\n    return Adder().run(a, b)",
    ),
    "program-defined helper classes are fine as long as the tested values are plain",
    ["assert abs(add(1, 2) - 3) < 1e-9", "assert add(0.5, 0.25) == 0.75"],
  ),
  honest(
    "code",
    "program_objects_compared_with_program_objects",
    python(
      "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n    def __eq__(self, other):\n        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)\ndef midpoint(a, b):\n    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)",
    ),
    "comparing two objects of a program-defined class uses the program's own __eq__",
    [
      "assert midpoint(Point(0, 0), Point(2, 4)) == Point(1, 2)",
      "assert midpoint(Point(0, 0), Point(2, 4)).x == 1",
    ],
  ),
  honest(
    "code",
    "sys_exit_in_unused_main",
    python(
      "import sys\ndef add(a, b):\n    return a + b\ndef main():\n    sys.exit(0)\nif __name__ == '__nobody__':\n    main()",
    ),
    "importing sys and defining exit paths that never run is not penalised",
  ),
  honest(
    "code_stdio",
    "correct_sum",
    python("a, b = map(int, input().split())\nprint(a + b)"),
    "a correct stdin/stdout solution passes",
    stdioLabel,
  ),
  honest(
    "code_stdio",
    "trailing_whitespace_and_sys_exit",
    python(
      "import sys\na, b = map(int, sys.stdin.read().split())\nsys.stdout.write(str(a + b) + '   \\n\\n')\nsys.exit(0)",
    ),
    "trailing spaces, blank lines and a clean sys.exit(0) are accepted, as in open-instruct",
    stdioLabel,
  ),
  honest(
    "code_stdio",
    "javascript_solution",
    "```javascript\nconst [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n```",
    "JavaScript programs run with Node when the label says so",
    { tests: stdioLabel, language: "javascript" },
  ),
  ...attackProbes,
];
