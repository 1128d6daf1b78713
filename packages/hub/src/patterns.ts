/**
 * `include` globs, with the semantics of `allow_patterns` in Python's huggingface_hub (which
 * uses `fnmatch`), so a recipe's file list selects the same files in Python and here:
 * - `*` matches any run of characters, `/` included (`*.parquet` matches `data/a.parquet`);
 * - `?` matches one character; `[abc]`, `[a-z]`, `[!abc]` match one character of a set;
 * - a pattern ending in `/` selects everything below that folder (`data/` = `data/*`).
 * Matching is against the whole repo path, case-sensitive.
 */
export function globToRegExp(pattern: string): RegExp {
  const source = pattern.endsWith("/") ? `${pattern}*` : pattern;
  let expression = "";
  for (let index = 0; index < source.length; index += 1) {
    const character = source[index]!;
    if (character === "*") expression += ".*";
    else if (character === "?") expression += ".";
    else if (character === "[") {
      const close = source.indexOf("]", index + 2);
      if (close === -1) {
        expression += "\\[";
        continue;
      }
      let set = source.slice(index + 1, close);
      const negated = set.startsWith("!");
      if (negated) set = set.slice(1);
      expression += `[${negated ? "^" : ""}${set.replace(/[\\\]^]/g, "\\$&")}]`;
      index = close;
    } else expression += character.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${expression}$`, "s");
}

/** True when `path` matches at least one pattern; an absent or empty list matches everything. */
export function matchesAnyPattern(path: string, patterns: readonly string[] | undefined): boolean {
  if (patterns === undefined || patterns.length === 0) return true;
  return patterns.some((pattern) => globToRegExp(pattern).test(path));
}

/** A matcher compiled once for many paths. */
export function createPathFilter(patterns: readonly string[] | undefined): (path: string) => boolean {
  if (patterns === undefined || patterns.length === 0) return () => true;
  const expressions = patterns.map(globToRegExp);
  return (path) => expressions.some((expression) => expression.test(path));
}
