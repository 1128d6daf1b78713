/**
 * A structural difference of two JSON values, as human-readable lines with paths. Arrays of
 * objects that carry a `path` (file lists) are compared by that key, so one changed file is
 * one line, not a shifted list.
 */
export interface Difference {
  /** e.g. `datasets["sft.train[0]"].expect.files[sft/train.parquet].sha256` */
  path: string;
  /** The locked value (undefined: absent in the lock). */
  locked: unknown;
  /** The current value (undefined: absent now). */
  current: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const identifierPattern = /^[A-Za-z_$][\w$]*$/;

function keyPath(base: string, key: string): string {
  if (identifierPattern.test(key)) return base === "" ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

function keyedByPath(items: unknown[]): Map<string, unknown> | null {
  const map = new Map<string, unknown>();
  for (const item of items) {
    if (!isPlainObject(item) || typeof item["path"] !== "string" || map.has(item["path"])) return null;
    map.set(item["path"], item);
  }
  return map;
}

/** Every leaf that differs between `locked` and `current`. */
export function diffValues(params: { locked: unknown; current: unknown; path?: string }): Difference[] {
  const { locked, current } = params;
  const path = params.path ?? "";
  if (isPlainObject(locked) && isPlainObject(current)) {
    const keys = [...new Set([...Object.keys(locked), ...Object.keys(current)])].sort();
    return keys.flatMap((key) =>
      diffValues({ locked: locked[key], current: current[key], path: keyPath(path, key) }),
    );
  }
  if (Array.isArray(locked) && Array.isArray(current)) {
    const lockedByPath = keyedByPath(locked);
    const currentByPath = keyedByPath(current);
    if (lockedByPath !== null && currentByPath !== null && (locked.length > 0 || current.length > 0)) {
      const keys = [...new Set([...lockedByPath.keys(), ...currentByPath.keys()])].sort();
      return keys.flatMap((key) =>
        diffValues({
          locked: lockedByPath.get(key),
          current: currentByPath.get(key),
          path: `${path}[${key}]`,
        }),
      );
    }
    const length = Math.max(locked.length, current.length);
    return Array.from({ length }, (_, index) =>
      diffValues({ locked: locked[index], current: current[index], path: `${path}[${index}]` }),
    ).flat();
  }
  if (Object.is(locked, current)) return [];
  if (locked === undefined && current === undefined) return [];
  return [{ path, locked, current }];
}

function show(value: unknown): string {
  if (value === undefined) return "(absent)";
  const text = JSON.stringify(value);
  return text.length > 90 ? `${text.slice(0, 87)}...` : text;
}

/** One line per difference: `path: locked → current`. */
export function formatDifferences(differences: readonly Difference[]): string {
  return differences
    .map((difference) => `  ${difference.path}: ${show(difference.locked)} → ${show(difference.current)}`)
    .join("\n");
}
