/**
 * Compares a program's stdout with the expected output the way open-instruct's stdio
 * grader (inherited from LiveCodeBench) does:
 *
 * 1. both texts are stripped, split on "\n", and every line is stripped (so trailing
 *    whitespace, "\r" and surrounding blank lines never matter; inner blank lines do);
 * 2. the line counts must match;
 * 3. each pair of lines must be equal, or else both must be whitespace-separated lists of
 *    decimal numbers of the same length whose values are exactly equal (`1.0` = `1`,
 *    `1e3` = `1000`; like Python's `Decimal` equality, no tolerance).
 */
export function outputsMatch({ actual, expected }: { actual: string; expected: string }): boolean {
  const actualLines = strippedLines(actual);
  const expectedLines = strippedLines(expected);
  if (actualLines.length !== expectedLines.length) return false;
  for (let index = 0; index < actualLines.length; index += 1) {
    const left = actualLines[index] as string;
    const right = expectedLines[index] as string;
    if (left === right) continue;
    if (!decimalLinesEqual(left, right)) return false;
  }
  return true;
}

/** Python's `str.strip()` whitespace: ASCII whitespace plus the Unicode spaces JS `trim` knows. */
function strippedLines(text: string): string[] {
  return text
    .trim()
    .split("\n")
    .map((line) => line.trim());
}

const decimalPattern = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;

/** A decimal literal as (sign, significant digits, exponent), or null if it is not one. */
function canonicalDecimal(token: string): string | null {
  const match = decimalPattern.exec(token.replaceAll("_", ""));
  if (match === null) return null;
  const [, sign = "", integerPart, fractionPart, bareFraction, exponentText] = match;
  const integerDigits = integerPart ?? "";
  const fractionDigits = bareFraction ?? fractionPart ?? "";
  let digits = `${integerDigits}${fractionDigits}`.replace(/^0+/, "");
  if (digits === "") return "0";
  let exponent = BigInt(exponentText ?? "0") - BigInt(fractionDigits.length);
  const trailing = /0+$/.exec(digits);
  if (trailing !== null) {
    exponent += BigInt(trailing[0].length);
    digits = digits.slice(0, digits.length - trailing[0].length);
  }
  return `${sign === "-" ? "-" : ""}${digits}e${exponent}`;
}

function decimalLinesEqual(left: string, right: string): boolean {
  const leftTokens = left.split(/\s+/).filter((token) => token !== "");
  const rightTokens = right.split(/\s+/).filter((token) => token !== "");
  if (leftTokens.length !== rightTokens.length) return false;
  for (let index = 0; index < leftTokens.length; index += 1) {
    const a = canonicalDecimal(leftTokens[index] as string);
    const b = canonicalDecimal(rightTokens[index] as string);
    if (a === null || b === null || a !== b) return false;
  }
  return true;
}
