/**
 * Hendrycks et al. (2021) MATH `strip_string` and `is_equiv`, re-implemented from their
 * documented behaviour (the version open-instruct and lm-evaluation-harness ship).
 */
import { MathNormalizationError } from "../errors.js";

/** `\frac12` → `\frac{1}{2}`, `\frac1{72}` → `\frac{1}{72}`; throws where the original does. */
function fixFractions(text: string): string {
  const parts = text.split("\\frac");
  let result = parts[0] ?? "";
  for (const part of parts.slice(1)) {
    if (part === "") throw new MathNormalizationError({ input: text, reason: "\\frac without argument" });
    result += "\\frac";
    if (part[0] === "{") {
      result += part;
      continue;
    }
    if (part.length < 2) return text;
    const numerator = part[0];
    const second = part[1];
    const rest = part.slice(2);
    result += second !== "{" ? `{${numerator}}{${second}}${rest}` : `{${numerator}}${second}${rest}`;
  }
  return result;
}

/** `3/4` → `\frac{3}{4}` when both sides are canonical integers; throws where Python's int() would. */
function fixSlash(text: string): string {
  const parts = text.split("/");
  if (parts.length !== 2) return text;
  const [left = "", right = ""] = parts;
  const integer = /^\s*[+-]?\d+\s*$/;
  if (!integer.test(left) || !integer.test(right)) {
    throw new MathNormalizationError({ input: text, reason: "a/b with a non-integer side" });
  }
  const a = BigInt(left.trim());
  const b = BigInt(right.trim());
  if (text !== `${a}/${b}`) return text;
  return `\\frac{${a}}{${b}}`;
}

/** Drops a unit written as `\text{ unit}` on the right; throws when there are several. */
function removeRightUnits(text: string): string {
  if (!text.includes("\\text{ ")) return text;
  const splits = text.split("\\text{ ");
  if (splits.length !== 2) throw new MathNormalizationError({ input: text, reason: "several \\text{ units" });
  return splits[0] ?? "";
}

/** `\sqrt3` → `\sqrt{3}`; throws on a trailing bare `\sqrt`. */
function fixSqrt(text: string): string {
  if (!text.includes("\\sqrt")) return text;
  const splits = text.split("\\sqrt");
  let result = splits[0] ?? "";
  for (const split of splits.slice(1)) {
    const first = split[0];
    if (first === undefined)
      throw new MathNormalizationError({ input: text, reason: "\\sqrt without argument" });
    result += first !== "{" ? `\\sqrt{${first}}${split.slice(1)}` : `\\sqrt${split}`;
  }
  return result;
}

/**
 * Hendrycks `strip_string`: removes newlines, `\!`, `\left`/`\right`, degrees, `\$`, a unit
 * `\text{ …}` on the right, `\%`/`%`; `tfrac`/`dfrac` → `frac`; `\\` → `\`; leading-dot
 * decimals get a 0; drops a short "k = " prefix; `\sqrt3` → `\sqrt{3}`; removes spaces;
 * `\frac12` → `\frac{1}{2}`; "0.5" → `\frac{1}{2}`; "a/b" → `\frac{a}{b}`.
 *
 * Throws {@link MathNormalizationError} exactly where the reference raises (several
 * `\text{ ` units, a bare trailing `\sqrt`, "x/2"); `hendrycksIsEquivalent` then falls
 * back to raw equality, as the reference does.
 */
export function stripString(params: { answer: string }): string {
  let text = params.answer.replaceAll("\n", "");
  text = text.replaceAll("\\!", "");
  text = text.replaceAll("\\\\", "\\");
  text = text.replaceAll("tfrac", "frac").replaceAll("dfrac", "frac");
  text = text.replaceAll("\\left", "").replaceAll("\\right", "");
  text = text.replaceAll("^{\\circ}", "").replaceAll("^\\circ", "");
  text = text.replaceAll("\\$", "");
  text = removeRightUnits(text);
  text = text.replaceAll("\\%", "").replaceAll("%", "");
  text = text.replaceAll(" .", " 0.").replaceAll("{.", "{0.");
  if (text.length === 0) return text;
  if (text[0] === ".") text = `0${text}`;
  const sides = text.split("=");
  if (sides.length === 2 && (sides[0] ?? "").length <= 2) text = sides[1] ?? "";
  text = fixSqrt(text);
  text = text.replaceAll(" ", "");
  text = fixFractions(text);
  if (text === "0.5") text = "\\frac{1}{2}";
  text = fixSlash(text);
  return text;
}

/**
 * Hendrycks `is_equiv`: equal after {@link stripString}; when stripping fails, raw equality.
 */
export function hendrycksIsEquivalent(params: { first: string; second: string }): boolean {
  try {
    return stripString({ answer: params.first }) === stripString({ answer: params.second });
  } catch (error) {
    if (error instanceof MathNormalizationError) return params.first === params.second;
    throw error;
  }
}
