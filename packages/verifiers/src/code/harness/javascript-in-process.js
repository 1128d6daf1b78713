// The in-process JavaScript referee of the code sandbox (loaded by ../harness.ts at module
// load and run with `node -e` by the Python harness after it has isolated the process).
// It reads { nonce, mode, program, test } from fd 3 before any untrusted code runs,
// captures fs.writeSync, process.reallyExit and node:assert first, compiles the test before
// the program runs, and reports `<nonce> <status> <assertions> <reason> <hex detail>` on fd 3.
// The program and this referee share one process (see ../README.md for what that allows).

(() => {
  const fs = require("node:fs");
  const vm = require("node:vm");
  const nodeAssert = require("node:assert");
  const { createRequire } = require("node:module");
  const path = require("node:path");
  const writeSync = fs.writeSync;
  const readSync = fs.readSync;
  const reallyExit = process.reallyExit.bind(process);
  const BufferFrom = Buffer.from.bind(Buffer);
  const BufferAlloc = Buffer.alloc.bind(Buffer);
  const BufferConcat = Buffer.concat.bind(Buffer);
  const StringOf = String;
  const Script = vm.Script;
  const AssertionError = nodeAssert.AssertionError;
  const reflectApply = Reflect.apply;
  const freeze = Object.freeze;
  const consoleError = console.error.bind(console);

  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const readExact = (size) => {
    const chunks = [];
    let total = 0;
    while (total < size) {
      const buffer = BufferAlloc(Math.min(65536, size - total));
      let count;
      try {
        count = readSync(3, buffer, 0, buffer.length, null);
      } catch (error) {
        if (error && error.code === "EAGAIN") {
          Atomics.wait(sleeper, 0, 0, 1);
          continue;
        }
        throw error;
      }
      if (count === 0) reallyExit(70);
      chunks.push(buffer.subarray(0, count));
      total += count;
    }
    return BufferConcat(chunks);
  };
  let header = "";
  while (!header.endsWith("\n")) {
    header += readExact(1).toString("latin1");
    if (header.length > 20) reallyExit(70);
  }
  const message = JSON.parse(readExact(Number.parseInt(header, 10)).toString("utf8"));
  const nonce = message.nonce;
  const mode = message.mode;

  let reported = false;
  const report = (status, assertions, reason, detail) => {
    if (reported) return;
    reported = true;
    let text;
    try {
      text = StringOf(detail);
    } catch {
      text = "<unprintable>";
    }
    const hexed = BufferFrom(text, "utf8").subarray(0, 4000).toString("hex") || "-";
    const line = BufferFrom(
      nonce + " " + status + " " + assertions + " " + reason + " " + hexed + "\n",
      "latin1",
    );
    let offset = 0;
    while (offset < line.length) {
      try {
        offset += writeSync(3, line, offset, line.length - offset);
      } catch (error) {
        if (error && error.code === "EAGAIN") continue;
        return;
      }
    }
  };
  const describe = (error) => {
    try {
      if (error && typeof error === "object" && "name" in error)
        return StringOf(error.name) + ": " + StringOf(error.message);
      return StringOf(error);
    } catch {
      return "<unprintable error>";
    }
  };
  const printError = (error) => {
    try {
      consoleError(error);
    } catch {}
  };

  let testFunction = null;
  if (mode === "assert") {
    try {
      testFunction = new Script("(async function (assert) {\n" + message.test + "\n})", {
        filename: "test.js",
        lineOffset: -1,
      }).runInThisContext();
    } catch (error) {
      report("failed", 0, "test_syntax_error", describe(error));
      reallyExit(3);
    }
  }
  let programScript;
  try {
    programScript = new Script(message.program, { filename: path.join(process.cwd(), "program.js") });
  } catch (error) {
    printError(error);
    report("failed", 0, "program_syntax_error", describe(error));
    reallyExit(3);
  }

  // Decided before the program runs (RegExp.prototype.test could be patched later).
  const mentionsAssert = mode === "assert" && /\bassert\b/.test(message.test);
  let assertions = 0;
  const counting = (name) => {
    const original = nodeAssert[name];
    return (...args) => {
      const result = reflectApply(original, nodeAssert, args);
      if (result && typeof result.then === "function" && (name === "rejects" || name === "doesNotReject")) {
        return result.then((value) => {
          assertions += 1;
          return value;
        });
      }
      assertions += 1;
      return result;
    };
  };
  const trustedAssert = counting("ok");
  for (const name of [
    "ok",
    "equal",
    "notEqual",
    "strictEqual",
    "notStrictEqual",
    "deepEqual",
    "notDeepEqual",
    "deepStrictEqual",
    "notDeepStrictEqual",
    "throws",
    "doesNotThrow",
    "rejects",
    "doesNotReject",
    "match",
    "doesNotMatch",
    "fail",
    "ifError",
  ]) {
    trustedAssert[name] = counting(name);
  }
  trustedAssert.AssertionError = AssertionError;
  trustedAssert.strict = trustedAssert;
  freeze(trustedAssert);

  // Defined before the program runs; it only uses `await` on native promises (immune to a
  // patched Promise.prototype.then) and captured functions.
  const runTest = async () => {
    try {
      await testFunction(trustedAssert);
    } catch (error) {
      if (error instanceof AssertionError) {
        report("failed", assertions, "assertion_failed", describe(error));
        reallyExit(5);
      }
      printError(error);
      report("failed", assertions, "test_error", describe(error));
      reallyExit(1);
    }
    if (mentionsAssert && assertions === 0) {
      report("failed", 0, "no_assertion_ran", "the test uses assert but no assertion ran");
      reallyExit(5);
    }
    report("passed", assertions, "ok", "");
    reallyExit(0);
  };

  const programFile = path.join(process.cwd(), "program.js");
  const programModule = { exports: {}, filename: programFile, id: ".", loaded: false };
  globalThis.require = createRequire(programFile);
  globalThis.module = programModule;
  globalThis.exports = programModule.exports;
  globalThis.__filename = programFile;
  globalThis.__dirname = process.cwd();

  const finishProgram = (code) => {
    if (mode !== "stdio") return;
    if (code === 0) report("completed", 0, "ok", "");
    else report("failed", 0, "program_exit", "exit code " + code);
  };
  process.on("exit", (code) => finishProgram(code));
  process.on("uncaughtException", (error) => {
    printError(error);
    report("failed", assertions, mode === "stdio" ? "program_error" : "test_error", describe(error));
    reallyExit(1);
  });
  process.on("unhandledRejection", (error) => {
    printError(error);
    report("failed", assertions, mode === "stdio" ? "program_error" : "test_error", describe(error));
    reallyExit(1);
  });

  try {
    programScript.runInThisContext();
  } catch (error) {
    printError(error);
    report("failed", 0, "program_error", describe(error));
    reallyExit(1);
  }
  if (mode === "stdio") return;

  runTest();
})();
