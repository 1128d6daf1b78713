/**
 * Minerva's `normalize_final_answer` (Lewkowycz et al. 2022, appendix D; as in
 * lm-evaluation-harness minerva_math and open-instruct math_utils), re-implemented from its
 * documented behaviour. Order matters and is kept exactly.
 */

/** Literal substitutions, applied in order to every occurrence. */
const substitutions: ReadonlyArray<readonly [string, string]> = [
  ["an ", ""],
  ["a ", ""],
  [".$", "$"],
  ["\\$", ""],
  ["\\ ", ""],
  [" ", ""],
  ["mbox", "text"],
  [",\\text{and}", ","],
  ["\\text{and}", ","],
  ["\\text{m}", "\\text{}"],
];

/** Literal removals, applied in order to every occurrence. */
const removedExpressions: readonly string[] = [
  "square",
  "ways",
  "integers",
  "dollars",
  "mph",
  "inches",
  "ft",
  "hours",
  "km",
  "units",
  "\\ldots",
  "sue",
  "points",
  "feet",
  "minutes",
  "digits",
  "cents",
  "degrees",
  "cm",
  "gm",
  "pounds",
  "meters",
  "meals",
  "edges",
  "students",
  "childrentickets",
  "multiples",
  "\\text{s}",
  "\\text{.}",
  "\\text{\ns}",
  "\\text{}^2",
  "\\text{}^3",
  "\\text{\n}",
  "\\text{}",
  "\\mathrm{th}",
  "^\\circ",
  "^{\\circ}",
  "\\;",
  ",\\!",
  "{,}",
  '"',
  "\\dots",
];

/**
 * Normalises a final answer the Minerva way:
 * 1. keep the text after the last `=`;
 * 2. the fixed substitutions (articles, `\$`, spaces, `mbox`→`text`, "and"→`,`) and removals
 *    (unit words, `\text{}`, `^\circ`, `{,}`, `\dots`, …) — literally, as in the paper, so
 *    "students" is removed even inside words;
 * 3. unwrap the first `$…$`, then `\text{}`, `\textbf{}`, `\overline{}` (first closing brace),
 *    and `\boxed{}` (last closing brace);
 * 4. `\fracab` → `\frac{a}{b}`, `\sqrta` → `\sqrt{a}`; drop every `$`;
 * 5. "100,000" → "100000" when only digits and commas remain.
 */
export function normalizeFinalAnswer(params: { answer: string }): string {
  let answer = params.answer.split("=").at(-1) ?? "";
  for (const [before, after] of substitutions) answer = answer.replaceAll(before, after);
  for (const expression of removedExpressions) answer = answer.replaceAll(expression, "");
  answer = answer.replace(/(.*?)(\$)(.*?)(\$)(.*)/g, "$$$3$$");
  answer = answer.replace(/(\\text\{)(.*?)(\})/g, "$2");
  answer = answer.replace(/(\\textbf\{)(.*?)(\})/g, "$2");
  answer = answer.replace(/(\\overline\{)(.*?)(\})/g, "$2");
  answer = answer.replace(/(\\boxed\{)(.*)(\})/g, "$2");
  answer = answer.replace(/(frac)([^{])(.)/g, "frac{$2}{$3}");
  answer = answer.replace(/(sqrt)([^{])/g, "sqrt{$2}");
  answer = answer.replaceAll("$", "");
  const withoutCommas = answer.replaceAll(",", "");
  if (/^\d+$/.test(withoutCommas)) answer = withoutCommas;
  return answer;
}
