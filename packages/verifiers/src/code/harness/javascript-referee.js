// The JavaScript referee of the value boundary (README, "The value boundary"): exec'd by the
// Python harness as the referee's uid after the fork, with fd 3 to the verifier and fd 4 to
// the program's process. It reads `{ nonce, test }` from fd 3, binds the names the test uses
// to proxies (calling one sends literal arguments to the program's process and returns the
// decoded literal answer), runs the test with a counting `assert` built from `node:assert`,
// and writes `<nonce> <status> <assertions> <reason> <hex detail>` to fd 3.
(() => {
  const vm = require("node:vm");
  const nodeAssert = require("node:assert");
  const fs = require("node:fs");
  const message = receiveFrame(3, 64 << 20);
  if (message === null) process.reallyExit(70);
  const { nonce, test } = message;
  let assertions = 0;
  let needsInProcess = null;
  const report = (status, reason, detail) => {
    const hexed =
      Buffer.from(String(detail ?? ""), "utf8")
        .subarray(0, 4000)
        .toString("hex") || "-";
    const line = Buffer.from(`${nonce} ${status} ${assertions} ${reason} ${hexed}\n`, "latin1");
    let offset = 0;
    while (offset < line.length) offset += fs.writeSync(3, line, offset, line.length - offset);
    process.reallyExit(status === "passed" ? 0 : 5);
  };

  let testFunction;
  try {
    testFunction = new vm.Script(`(async function (assert) {\n${test}\n})`, {
      filename: "test.js",
      lineOffset: -1,
    }).runInThisContext();
  } catch (error) {
    report("failed", "test_syntax_error", describeError(error));
  }

  let first;
  try {
    first = receiveFrame(4, 1 << 20);
  } catch (error) {
    report("failed", "protocol_error", `unreadable first message: ${describeError(error)}`);
  }
  if (first === null)
    report("failed", "program_exited_before_tests", "the program's process ended before the tests");
  if (first[0] === "failed") {
    const known = ["program_syntax_error", "program_error", "missing_module"];
    report("failed", known.includes(first[1]) ? first[1] : "program_error", String(first[2]));
  }
  if (first[0] !== "ready") report("failed", "protocol_error", "unexpected first message");

  class ProgramExited extends Error {}
  class ProtocolError extends Error {}
  class Untrusted extends Error {}
  class NeedsInProcess extends Error {}
  class ProgramError extends Error {}

  const exchange = (request) => {
    try {
      sendFrame(4, request);
    } catch {
      throw new ProgramExited("the program's process ended during a call");
    }
    let reply;
    try {
      reply = receiveFrame(4, 1 << 30);
    } catch (error) {
      throw new ProtocolError(`unreadable reply: ${describeError(error)}`);
    }
    if (reply === null) throw new ProgramExited("the program's process ended during a call");
    if (!Array.isArray(reply) || reply.length === 0) throw new ProtocolError("malformed reply");
    return reply;
  };

  const encodeArgument = (value) => {
    if (typeof value === "function" && proxies.has(value)) return ["r", proxies.get(value)];
    try {
      return encodeValue(value);
    } catch (error) {
      needsInProcess = `an argument cannot cross the boundary: ${describeError(error)}`;
      throw new NeedsInProcess(needsInProcess);
    }
  };
  const builtinErrors = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  const remoteCall = (name, args) => {
    if (needsInProcess !== null) throw new NeedsInProcess(needsInProcess);
    const reply = exchange(["call", name, args.map(encodeArgument)]);
    if (
      reply[0] === "ok" &&
      reply.length === 3 &&
      Array.isArray(reply[2]) &&
      reply[2].length === args.length
    ) {
      let result;
      try {
        result = decodeValue(reply[1]);
        reply[2].forEach((after, index) => {
          if (after === null) return;
          const updated = decodeValue(after);
          const argument = args[index];
          if (Array.isArray(argument) && Array.isArray(updated))
            argument.splice(0, argument.length, ...updated);
          else if (argument instanceof Map && updated instanceof Map) {
            argument.clear();
            for (const [key, value] of updated) argument.set(key, value);
          } else if (argument instanceof Set && updated instanceof Set) {
            argument.clear();
            for (const value of updated) argument.add(value);
          } else if (
            argument !== null &&
            typeof argument === "object" &&
            updated !== null &&
            typeof updated === "object"
          ) {
            for (const key of Object.keys(argument)) delete argument[key];
            for (const key of Object.keys(updated))
              Object.defineProperty(argument, key, {
                value: updated[key],
                enumerable: true,
                writable: true,
                configurable: true,
              });
          }
        });
      } catch (error) {
        throw new ProtocolError(`undecodable value: ${describeError(error)}`);
      }
      return result;
    }
    if (reply[0] === "raise" && typeof reply[1] === "string" && typeof reply[2] === "string") {
      const text = reply[2].includes(": ") ? reply[2].slice(reply[2].indexOf(": ") + 2) : reply[2];
      const ErrorClass = Object.hasOwn(builtinErrors, reply[1]) ? builtinErrors[reply[1]] : ProgramError;
      throw new ErrorClass(text);
    }
    if (reply[0] === "unserialisable")
      throw new Untrusted(`the program returned a value that is not plain data: ${String(reply[1])}`);
    throw new ProtocolError("malformed reply");
  };

  // The names the test uses that this context does not define: ask the program for them.
  const reserved = new Set(
    "break case catch class const continue debugger default delete do else export extends finally for function if import in instanceof new return super switch this throw try typeof var void while with yield let static enum await implements package protected interface private public null true false undefined assert".split(
      " ",
    ),
  );
  const candidates = [...new Set(test.match(/[A-Za-z_$][\w$]*/g) ?? [])].filter(
    (name) => !reserved.has(name) && !(name in globalThis),
  );
  const proxies = new Map();
  let kinds;
  try {
    const reply = exchange(["names", candidates]);
    if (reply[0] !== "names" || reply[1] === null || typeof reply[1] !== "object")
      throw new ProtocolError("malformed names");
    kinds = reply[1];
  } catch (error) {
    if (error instanceof ProgramExited) report("failed", "program_exited_before_tests", error.message);
    report("failed", "protocol_error", describeError(error));
  }
  for (const name of candidates) {
    if (!Object.hasOwn(kinds, name)) continue;
    const kind = kinds[name];
    if (!Array.isArray(kind)) continue;
    if (kind[0] === "function") {
      const proxy = (...args) => remoteCall(name, args);
      proxies.set(proxy, name);
      globalThis[name] = proxy;
    } else if (kind[0] === "value" && kind.length === 2) {
      try {
        globalThis[name] = decodeValue(kind[1]);
      } catch (error) {
        report("failed", "protocol_error", describeError(error));
      }
    } else {
      report("failed", "needs_in_process", `the test uses ${name}, a program-defined class or object`);
    }
  }

  const counting = (name) => {
    const original = nodeAssert[name];
    return (...args) => {
      const result = Reflect.apply(original, nodeAssert, args);
      if (result && typeof result.then === "function" && (name === "rejects" || name === "doesNotReject"))
        return result.then((value) => {
          assertions += 1;
          return value;
        });
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
  ])
    trustedAssert[name] = counting(name);
  trustedAssert.AssertionError = nodeAssert.AssertionError;
  trustedAssert.strict = trustedAssert;
  Object.freeze(trustedAssert);
  const mentionsAssert = /\bassert\b/.test(test);

  const classify = (error) => {
    if (needsInProcess !== null) report("failed", "needs_in_process", needsInProcess);
    if (error instanceof ProgramExited) report("failed", "exited_during_tests", error.message);
    if (error instanceof ProtocolError) report("failed", "protocol_error", error.message);
    if (error instanceof Untrusted) report("failed", "untrusted_value", error.message);
    if (error instanceof nodeAssert.AssertionError)
      report("failed", "assertion_failed", describeError(error));
    console.error(error);
    report("failed", "test_error", describeError(error));
  };
  process.on("uncaughtException", classify);
  process.on("unhandledRejection", classify);
  testFunction(trustedAssert).then(() => {
    if (needsInProcess !== null) report("failed", "needs_in_process", needsInProcess);
    if (mentionsAssert && assertions === 0)
      report("failed", "no_assertion_ran", "the test uses assert but no assertion ran");
    report("passed", "ok", "");
  }, classify);
})();
