import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { PosttrainError } from "./errors.js";

/** A value that can be written as canonical JSON. */
export type CanonicalValue =
  | null
  | boolean
  | number
  | string
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue | undefined };

export class CanonicalJsonError extends PosttrainError {
  constructor(path: string, reason: string) {
    super({
      code: "canonical_json_invalid",
      message: `cannot hash value at ${path}: ${reason}`,
      details: { path },
    });
    this.name = "CanonicalJsonError";
  }
}

function formatNumber(value: number, path: string): string {
  if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `non-finite number ${value}`);
  // ECMAScript's Number#toString is the shortest string that round-trips (the same rule as
  // RFC 8785/JCS), so 1, 1.0 and 1e0 in a source file all become "1"; -0 is written as 0.
  return Object.is(value, -0) ? "0" : String(value);
}

function write(value: unknown, path: string, seen: Set<object>): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return formatNumber(value, path);
    case "string":
      return JSON.stringify(value);
    case "bigint":
      return JSON.stringify(value.toString());
    case "object": {
      if (seen.has(value)) throw new CanonicalJsonError(path, "cycle");
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          return `[${value.map((item, index) => (item === undefined ? "null" : write(item, `${path}[${index}]`, seen))).join(",")}]`;
        }
        if (ArrayBuffer.isView(value))
          throw new CanonicalJsonError(path, "typed arrays are hashed by content, not as JSON");
        if (value instanceof Date) return JSON.stringify(value.toISOString());
        const prototype = Object.getPrototypeOf(value);
        if (prototype !== Object.prototype && prototype !== null) {
          throw new CanonicalJsonError(
            path,
            `unsupported object type ${prototype?.constructor?.name ?? "unknown"}`,
          );
        }
        const entries = Object.keys(value)
          .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries
          .map(
            (key) =>
              `${JSON.stringify(key)}:${write((value as Record<string, unknown>)[key], `${path}.${key}`, seen)}`,
          )
          .join(",")}}`;
      } finally {
        seen.delete(value);
      }
    }
    default:
      throw new CanonicalJsonError(path, `unsupported type ${typeof value}`);
  }
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, numbers in their
 * shortest round-trip form, `undefined` properties omitted. Two values that are equal as
 * data always give the same string, whatever the key order or number spelling they came
 * from.
 */
export function canonicalJson(value: unknown): string {
  return write(value, "$", new Set());
}

/** sha256 of bytes or a UTF-8 string, as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A stable sha256 fingerprint of a JSON-like value (hash of its canonical JSON). */
export function fingerprint(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Streams a file through sha256; returns the hex digest and the size in bytes. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
