/**
 * Python's `json.loads` accepts everything `JSON.parse` does plus the bare constants `NaN`,
 * `Infinity` and `-Infinity`. IFEval's `detectable_format:json_format` passes on anything
 * `json.loads` accepts, so this does too.
 */
const stringLiteral = /"(?:[^"\\]|\\.)*"/gsu;
const pythonConstants = /-?\bInfinity\b|\bNaN\b/gu;

export function isPythonJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    // Fall through: retry with Python's extra constants replaced outside string literals.
  }
  if (!/NaN|Infinity/u.test(text)) return false;
  let rewritten = "";
  let last = 0;
  for (const match of text.matchAll(stringLiteral)) {
    rewritten += text.slice(last, match.index).replace(pythonConstants, "0") + match[0];
    last = match.index + match[0].length;
  }
  rewritten += text.slice(last).replace(pythonConstants, "0");
  try {
    JSON.parse(rewritten);
    return true;
  } catch {
    return false;
  }
}
