// Shared by the JavaScript program server and referee of the code sandbox (prepended to
// each by ../harness.ts): blocking frames `<byte length>\n<JSON>` on a socket descriptor,
// and the literal-only value encoding (README, "The value boundary"). The encoder runs in
// the program's process (untrusted); only the referee's decoder decides what a value is.
const channelFs = require("node:fs");
const channelSleeper = new Int32Array(new SharedArrayBuffer(4));

function channelRead(fd, buffer, offset, length) {
  for (;;) {
    try {
      return channelFs.readSync(fd, buffer, offset, length, null);
    } catch (error) {
      if (error && error.code === "EAGAIN") {
        Atomics.wait(channelSleeper, 0, 0, 1);
        continue;
      }
      if (error && error.code === "ECONNRESET") return 0;
      throw error;
    }
  }
}

// biome-ignore lint/correctness/noUnusedVariables: used by the harness this file is prepended to
function receiveFrame(fd, limit) {
  let header = "";
  const one = Buffer.alloc(1);
  while (!header.endsWith("\n")) {
    if (channelRead(fd, one, 0, 1) === 0) return null;
    header += one.toString("latin1");
    if (header.length > 20) throw new Error("malformed frame");
  }
  const size = Number.parseInt(header, 10);
  if (!Number.isInteger(size) || size < 0 || size > limit) throw new Error("frame larger than the limit");
  const body = Buffer.alloc(size);
  let offset = 0;
  while (offset < size) {
    const count = channelRead(fd, body, offset, size - offset);
    if (count === 0) return null;
    offset += count;
  }
  return JSON.parse(body.toString("utf8"));
}

// biome-ignore lint/correctness/noUnusedVariables: used by the harness this file is prepended to
function sendFrame(fd, message) {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  const data = Buffer.concat([Buffer.from(`${body.length}\n`, "latin1"), body]);
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += channelFs.writeSync(fd, data, offset, data.length - offset);
    } catch (error) {
      if (error && error.code === "EAGAIN") {
        Atomics.wait(channelSleeper, 0, 0, 1);
        continue;
      }
      throw error;
    }
  }
}

// biome-ignore lint/correctness/noUnusedVariables: used by the harness this file is prepended to
function encodeValue(value, depth = 0, budget = { left: 1_000_000 }) {
  budget.left -= 1;
  if (budget.left < 0 || depth > 200) throw new TypeError("value too large to cross the boundary");
  if (value === null) return ["n"];
  if (value === undefined) return ["u"];
  const kind = typeof value;
  if (kind === "boolean") return ["b", value];
  if (kind === "number") return ["f", Object.is(value, -0) ? "-0" : String(value)];
  if (kind === "bigint") return ["i", value.toString(16)];
  if (kind === "string") return ["s", value];
  if (kind !== "object") throw new TypeError(`a ${kind} cannot cross the boundary`);
  if (Array.isArray(value)) {
    const items = [];
    for (let index = 0; index < value.length; index += 1)
      items.push(encodeValue(value[index], depth + 1, budget));
    return ["l", items];
  }
  if (value instanceof Uint8Array) return ["y", Buffer.from(value).toString("hex")];
  if (value instanceof Map)
    return [
      "m",
      [...value].map(([key, item]) => [
        encodeValue(key, depth + 1, budget),
        encodeValue(item, depth + 1, budget),
      ]),
    ];
  if (value instanceof Set) return ["e", [...value].map((item) => encodeValue(item, depth + 1, budget))];
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null)
    return ["o", Object.keys(value).map((key) => [key, encodeValue(value[key], depth + 1, budget)])];
  const name = value?.constructor?.name ?? "object";
  throw new TypeError(`a value of type ${name} cannot cross the boundary`);
}

// biome-ignore lint/correctness/noUnusedVariables: used by the harness this file is prepended to
function decodeValue(node, depth = 0) {
  if (depth > 250 || !Array.isArray(node) || node.length === 0 || typeof node[0] !== "string")
    throw new Error("malformed value");
  const [tag, payload] = node;
  if (tag === "n") return null;
  if (tag === "u") return undefined;
  if (tag === "b" && typeof payload === "boolean") return payload;
  if (tag === "f" && typeof payload === "string") {
    if (payload === "-0") return -0;
    const number = Number(payload);
    if (Number.isNaN(number) && payload !== "NaN") throw new Error("malformed number");
    return number;
  }
  if (tag === "i" && typeof payload === "string" && /^-?[0-9a-f]+$/.test(payload))
    return payload.startsWith("-") ? -BigInt(`0x${payload.slice(1)}`) : BigInt(`0x${payload}`);
  if (tag === "s" && typeof payload === "string") return payload;
  if (tag === "y" && typeof payload === "string" && /^([0-9a-f]{2})*$/.test(payload))
    return Buffer.from(payload, "hex");
  if (tag === "l" && Array.isArray(payload)) return payload.map((item) => decodeValue(item, depth + 1));
  if (tag === "e" && Array.isArray(payload))
    return new Set(payload.map((item) => decodeValue(item, depth + 1)));
  if (tag === "m" && Array.isArray(payload)) {
    const map = new Map();
    for (const pair of payload) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error("malformed map");
      map.set(decodeValue(pair[0], depth + 1), decodeValue(pair[1], depth + 1));
    }
    return map;
  }
  if (tag === "o" && Array.isArray(payload)) {
    const object = {};
    for (const pair of payload) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string")
        throw new Error("malformed object");
      // defineProperty: a key "__proto__" stays a plain property, never a prototype.
      Object.defineProperty(object, pair[0], {
        value: decodeValue(pair[1], depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return object;
  }
  throw new Error(`value tag not allowed: ${String(tag).slice(0, 20)}`);
}

// biome-ignore lint/correctness/noUnusedVariables: used by the harness this file is prepended to
function describeError(error) {
  try {
    if (error && typeof error === "object" && "name" in error)
      return `${String(error.name)}: ${String(error.message)}`;
    return String(error);
  } catch {
    return "<unprintable error>";
  }
}
