/**
 * Our answer canonicalisation, applied to both sides before structural and CAS comparison.
 * It removes presentation that never changes a value (delimiters, spacing commands, `\left`,
 * `\text{}` wrappers, units, degrees, currency, percent, thousands separators) and keeps
 * everything that does.
 */

/** Unit words dropped after a number ("5 cm", "5\text{ cm}"), after the Minerva list. */
const unitWords = new Set([
  "square",
  "units",
  "unit",
  "sq",
  "cm",
  "mm",
  "m",
  "km",
  "in",
  "inch",
  "inches",
  "ft",
  "foot",
  "feet",
  "yd",
  "yards",
  "mi",
  "miles",
  "mile",
  "meter",
  "meters",
  "metre",
  "metres",
  "centimeters",
  "kilometers",
  "g",
  "gm",
  "kg",
  "grams",
  "kilograms",
  "lb",
  "lbs",
  "pounds",
  "ounces",
  "oz",
  "s",
  "sec",
  "seconds",
  "min",
  "minutes",
  "h",
  "hr",
  "hours",
  "hour",
  "days",
  "day",
  "weeks",
  "years",
  "mph",
  "kph",
  "dollars",
  "dollar",
  "cents",
  "cent",
  "degrees",
  "degree",
  "points",
  "ways",
  "students",
  "people",
  "integers",
  "digits",
  "edges",
  "meals",
  "liters",
  "litres",
  "ml",
  "gallons",
  "percent",
  "sqft",
  "cubic",
  "per",
  // From latex2sympy2_extended's unit list (plurals are accepted below).
  "digit",
  "pound",
  "meal",
  "edge",
  "student",
  "child",
  "children",
  "mile",
  "acre",
  "gallon",
  "gal",
  "month",
  "yr",
  "rupee",
  "rs",
  "ohm",
  "hectare",
  "kmh",
  "kmph",
  "mtr",
  "cc",
  "toy",
  "coin",
  "tile",
  "men",
  "women",
  "man",
  "woman",
  "minute",
  "second",
  "week",
  "year",
  "liter",
  "litre",
  "centimeter",
  "kilometer",
  "millimeter",
  "gram",
  "kilogram",
  "ounce",
  "yard",
  "sqm",
]);

/** A unit word, singular or plural ("miles", "inches"). */
function isUnitWord(word: string): boolean {
  const lower = word.toLowerCase();
  return (
    unitWords.has(lower) ||
    (lower.length > 3 && (unitWords.has(lower.replace(/e?s$/, "")) || unitWords.has(lower.slice(0, -1))))
  );
}

const wrapperCommands = [
  "\\text",
  "\\textbf",
  "\\textit",
  "\\textrm",
  "\\textnormal",
  "\\textsf",
  "\\texttt",
  "\\emph",
  "\\mathrm",
  "\\mathbf",
  "\\mbox",
  "\\operatorname",
];

/** Replaces `\command{inner}` by `inner` for every wrapper command, with nested braces. */
function unwrapCommands(text: string): string {
  let result = text;
  for (const command of wrapperCommands) {
    let start = result.indexOf(`${command}{`);
    let guard = 0;
    while (start >= 0 && guard < 1000) {
      guard += 1;
      const open = start + command.length;
      let depth = 0;
      let close = -1;
      for (let index = open; index < result.length; index += 1) {
        if (result[index] === "{") depth += 1;
        else if (result[index] === "}") {
          depth -= 1;
          if (depth === 0) {
            close = index;
            break;
          }
        }
      }
      if (close < 0) break;
      const inner = result.slice(open + 1, close);
      result = `${result.slice(0, start)}${command === "\\text" || command === "\\mbox" ? ` ${inner} ` : inner}${result.slice(close + 1)}`;
      start = result.indexOf(`${command}{`, start);
    }
  }
  return result;
}

/** Drops trailing unit words after a value: "5 cm" → "5", "12 square units" → "12". */
function dropTrailingUnits(text: string): string {
  let result = text.trim();
  for (let guard = 0; guard < 4; guard += 1) {
    const match = /^(.*?[\d}).\s])\s*([A-Za-z]+)(\^\{?[23]\}?|[²³])?\.?$/.exec(result);
    if (match === null) break;
    const word = match[2] ?? "";
    if (!isUnitWord(word)) break;
    const before = (match[1] ?? "").trim();
    if (before === "" || (!/[\d}]$/.test(before) && !/\b[A-Za-z]+$/.test(before))) break;
    result = before;
  }
  return result;
}

export interface CleanedAnswer {
  text: string;
  /** The answer carried a percent sign (removed from `text`). */
  percent: boolean;
}

/**
 * Canonicalises an answer for comparison:
 * - strips enclosing `$…$`, `\(…\)`, `\[…\]`, `\displaystyle`, `\left`/`\right`, `\big…`;
 * - `\dfrac`/`\tfrac` → `\frac`; spacing commands (`\!`, `\,`, `\;`, `\:`, `\ `, `~`,
 *   `\quad`) → a space;
 * - degrees (`^\circ`, `^{\circ}`, `°`, `\degree`), currency (`\$`, `$`, `€`, `£`),
 *   percent (`\%`, `%`, "percent") are removed (`percent` records the last);
 * - `\text{}`-like wrappers are unwrapped, then unit words after a value are dropped;
 * - thousands separators: "1,234,567" / "1{,}234" / "1\,234" → "1234567" when the whole
 *   answer is one such number;
 * - a multiple-choice letter "(C)" / "C" → "C"; a trailing period is dropped; whitespace
 *   collapsed.
 */
export function cleanAnswer(params: { answer: string }): CleanedAnswer {
  let text = params.answer.trim();
  for (let guard = 0; guard < 3; guard += 1) {
    const enclosed =
      /^\$+([\s\S]*?)\$+$/.exec(text) ?? /^\\\(([\s\S]*)\\\)$/.exec(text) ?? /^\\\[([\s\S]*)\\\]$/.exec(text);
    if (enclosed === null) break;
    text = (enclosed[1] ?? "").trim();
  }
  // A row break right before "\end{…}" closes no row.
  text = text.replace(/\\\\\s*(?=\\end\{)/g, "");
  // A doubled backslash before a command ("\\\\frac", from double-escaped text) is the command.
  text = text.replace(
    /(?<!\\)\\\\(?=(?:frac|dfrac|tfrac|sqrt|left|right|pi|infty|le|ge|leq|geq|lt|gt|neq|cdot|times|pm|mp|text|boxed|begin|end|cup|in)(?![A-Za-z]))/g,
    "\\",
  );
  // Quotation marks around an answer are not part of it.
  text = text.replace(/^["'“”‘’]+|["'“”‘’]+$/g, "").trim();
  text = text.replaceAll("\\displaystyle", "");
  // "\left[\begin{array}…\end{array}\right]" is the matrix itself.
  const array = /^\\left\s*[[(]\s*(\\begin\{array\}[\s\S]*\\end\{array\})\s*\\right\s*[\])]$/.exec(text);
  if (array !== null) text = array[1] ?? text;
  text = text.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![A-Za-z])/g, "");
  text = text.replace(/\\(?:dfrac|tfrac)(?![A-Za-z])/g, "\\frac");
  text = text.replace(/\\q?quad/g, " ");
  // "11,\! 111" is a thousands separator, not a list.
  text = text.replace(/(\d),\\!\s*(?=\d{3}(?!\d))/g, "$1{,}");
  text = text.replace(/\\[!,;:]/g, (match) => (match === "\\," ? "\\," : " "));
  // "\\ " is a spacing command, but "\\\\ " is a row break followed by a space.
  text = text.replace(/(?<!\\)\\ /g, " ").replaceAll("~", " ");
  text = text.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree(?![A-Za-z])|\\circ(?![A-Za-z])/g, "");
  text = text.replace(/\\\$|\$|€|£|\\euro(?![A-Za-z])|\\pounds(?![A-Za-z])/g, "");
  let percent = false;
  text = text.replace(/\\%|%|\\text\{\s*(?:percent(?:age)?|pct)\s*\}|\b(?:percent(?:age)?|pct)\b/g, () => {
    percent = true;
    return "";
  });
  // "A and B", "A or B": one answer set (a hedge "5 or 6" then never equals a single 6).
  text = text.replace(/\\(?:text|textnormal|mbox|textrm)\{\s*(?:and|or)\s*\}|\b(?:and|or)\b/g, ",");
  text = unwrapCommands(text);
  text = text.replace(/\s+/g, " ").replace(/\s+\^/g, "^").trim();
  text = dropTrailingUnits(text);
  text = text.replace(/\.$/, "").trim();
  // Thousands separators, only when the whole answer is one grouped number.
  const grouped = text.replace(/\{,\}|\\,/g, ",");
  if (/^[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/.test(grouped)) text = grouped.replaceAll(",", "");
  else if (/^[-+]?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(text)) text = text.replaceAll(" ", "");
  text = text.replaceAll("\\,", " ").replace(/\s+/g, " ").trim();
  const choice = /^\(?([A-Ea-e])\)$|^\(([A-Ea-e])\)?$/.exec(text);
  if (choice !== null) text = (choice[1] ?? choice[2] ?? "").toUpperCase();
  return { text, percent };
}
