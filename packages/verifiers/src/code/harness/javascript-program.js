// The JavaScript program's process of the value boundary (README, "The value boundary"):
// exec'd by the Python harness as the program's uid, with the program's source on fd 4 and
// its channel to the referee on fd 3. It runs the program as a classic script, then answers
// `names` and `call` requests with literal-only values. Everything here is the program's own
// territory: whatever it sends, the referee decodes only plain values.
(() => {
  const fs = require("node:fs");
  const vm = require("node:vm");
  const path = require("node:path");
  const { createRequire } = require("node:module");
  // Captured before the program runs (it may patch prototypes; that only harms itself, but
  // honest programs that do should still be answered).
  const identifier = /^[A-Za-z_$][\w$]*$/;
  const regexpExec = RegExp.prototype.exec;
  const isIdentifier = (name) =>
    typeof name === "string" && Reflect.apply(regexpExec, identifier, [name]) !== null;
  const source = fs.readFileSync(4, "utf8");
  fs.closeSync(4);
  const programFile = path.join(process.cwd(), "program.js");
  const programModule = { exports: {}, filename: programFile, id: ".", loaded: false };
  globalThis.require = createRequire(programFile);
  globalThis.module = programModule;
  globalThis.exports = programModule.exports;
  globalThis.__filename = programFile;
  globalThis.__dirname = process.cwd();
  let script;
  try {
    script = new vm.Script(source, { filename: programFile });
  } catch (error) {
    console.error(error);
    sendFrame(3, ["failed", "program_syntax_error", describeError(error)]);
    process.reallyExit(3);
  }
  try {
    script.runInThisContext();
  } catch (error) {
    console.error(error);
    const missing = error && error.code === "MODULE_NOT_FOUND";
    sendFrame(3, ["failed", missing ? "missing_module" : "program_error", describeError(error)]);
    process.reallyExit(1);
  }

  const resolve = (name) => {
    if (!isIdentifier(name)) return { found: false };
    try {
      const value = new vm.Script(`typeof ${name} === "undefined" ? undefined : ${name}`).runInThisContext();
      return value === undefined ? { found: false } : { found: true, value };
    } catch {
      return { found: false };
    }
  };
  const kindOf = (value) => {
    if (typeof value === "function")
      return Reflect.apply(regexpExec, /^class[\s{]/, [Function.prototype.toString.call(value)]) !== null
        ? ["class"]
        : ["function"];
    try {
      return ["value", encodeValue(value, 0, { left: 10_000 })];
    } catch {
      return ["object"];
    }
  };
  const serve = async () => {
    for (;;) {
      const request = receiveFrame(3, 1 << 30);
      if (request === null) process.reallyExit(0);
      let reply;
      if (request[0] === "names") {
        const kinds = {};
        for (const name of request[1]) {
          const found = resolve(name);
          if (found.found) kinds[name] = kindOf(found.value);
        }
        reply = ["names", kinds];
      } else {
        const [, name, encodedArguments] = request;
        try {
          const found = resolve(name);
          const args = encodedArguments.map((argument) =>
            Array.isArray(argument) && argument[0] === "r"
              ? resolve(argument[1]).value
              : decodeValue(argument),
          );
          let result = found.value(...args);
          if (result && typeof result.then === "function") result = await result;
          let encoded;
          try {
            encoded = encodeValue(result);
          } catch (error) {
            reply = ["unserialisable", describeError(error)];
          }
          if (reply === undefined) {
            const after = args.map((argument) =>
              Array.isArray(argument) ||
              argument instanceof Map ||
              argument instanceof Set ||
              (argument !== null &&
                typeof argument === "object" &&
                Object.getPrototypeOf(argument) === Object.prototype)
                ? encodeValue(argument)
                : null,
            );
            reply = ["ok", encoded, after];
          }
        } catch (error) {
          const builtin =
            error instanceof Error &&
            [
              "Error",
              "TypeError",
              "RangeError",
              "SyntaxError",
              "ReferenceError",
              "EvalError",
              "URIError",
            ].includes(error.constructor?.name);
          reply = ["raise", builtin ? error.constructor.name : "", describeError(error)];
        }
      }
      sendFrame(3, reply);
    }
  };
  sendFrame(3, ["ready", {}]);
  serve().catch((error) => {
    console.error(error);
    process.reallyExit(1);
  });
})();
