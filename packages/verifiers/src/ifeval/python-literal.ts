import { PosttrainError } from "@posttrain/core";

/**
 * Parses a Python literal — what open-instruct reads its `ground_truth` column with
 * (`ast.literal_eval`): dicts, lists, tuples, strings in single or double quotes (with
 * backslash escapes and implicit concatenation), integers, floats, `True`, `False`, `None`.
 * JSON is a subset apart from `true`/`false`/`null`, which are accepted too. Throws a
 * PosttrainError (`python_literal_invalid`) with the offset of the first problem.
 */
export function parsePythonLiteral(text: string): unknown {
  let position = 0;

  const fail = (message: string): never => {
    throw new PosttrainError({
      code: "python_literal_invalid",
      message: `invalid Python literal at offset ${position}: ${message}`,
      details: { offset: position },
    });
  };

  const skipSpace = () => {
    while (position < text.length && /\s/u.test(text[position]!)) position += 1;
  };

  const parseString = (): string => {
    const quote = text[position]!;
    const triple = text.startsWith(quote.repeat(3), position);
    const delimiter = triple ? quote.repeat(3) : quote;
    position += delimiter.length;
    let value = "";
    while (!text.startsWith(delimiter, position)) {
      if (position >= text.length) fail("unterminated string");
      const character = text[position]!;
      if (character === "\\") {
        const escaped = text[position + 1] ?? "";
        position += 2;
        const simple: Record<string, string> = {
          n: "\n",
          t: "\t",
          r: "\r",
          "\\": "\\",
          "'": "'",
          '"': '"',
          "0": "\0",
          a: "\x07",
          b: "\b",
          f: "\f",
          v: "\v",
          "\n": "",
        };
        if (escaped in simple) value += simple[escaped];
        else if (escaped === "x" || escaped === "u" || escaped === "U") {
          const length = escaped === "x" ? 2 : escaped === "u" ? 4 : 8;
          const hex = text.slice(position, position + length);
          if (!/^[0-9a-fA-F]+$/u.test(hex) || hex.length !== length) fail("bad escape");
          value += String.fromCodePoint(Number.parseInt(hex, 16));
          position += length;
        } else value += `\\${escaped}`;
      } else {
        if (!triple && character === "\n") fail("newline in string");
        value += character;
        position += 1;
      }
    }
    position += delimiter.length;
    return value;
  };

  const parseSequence = (close: string): unknown[] => {
    position += 1;
    const items: unknown[] = [];
    skipSpace();
    while (text[position] !== close) {
      items.push(parseValue());
      skipSpace();
      if (text[position] === ",") {
        position += 1;
        skipSpace();
      } else if (text[position] !== close) fail(`expected "," or "${close}"`);
    }
    position += 1;
    return items;
  };

  const parseDict = (): Record<string, unknown> => {
    position += 1;
    const entries: Record<string, unknown> = {};
    skipSpace();
    while (text[position] !== "}") {
      const key = parseValue();
      if (typeof key !== "string" && typeof key !== "number") fail("dict keys must be strings or numbers");
      skipSpace();
      if (text[position] !== ":") fail('expected ":"');
      position += 1;
      entries[String(key)] = parseValue();
      skipSpace();
      if (text[position] === ",") {
        position += 1;
        skipSpace();
      } else if (text[position] !== "}") fail('expected "," or "}"');
    }
    position += 1;
    return entries;
  };

  const parseValue = (): unknown => {
    skipSpace();
    const character = text[position];
    if (character === undefined) return fail("unexpected end");
    if (character === "{") return parseDict();
    if (character === "[") return parseSequence("]");
    if (character === "(") return parseSequence(")");
    if (character === "'" || character === '"') {
      let value = parseString();
      skipSpace();
      while (text[position] === "'" || text[position] === '"') {
        value += parseString();
        skipSpace();
      }
      return value;
    }
    const word = /^(?:True|False|None|true|false|null)\b/u.exec(text.slice(position));
    if (word !== null) {
      position += word[0].length;
      return word[0] === "True" || word[0] === "true"
        ? true
        : word[0] === "False" || word[0] === "false"
          ? false
          : null;
    }
    const number = /^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/u.exec(text.slice(position));
    if (number !== null) {
      position += number[0].length;
      return Number(number[0].replaceAll("_", ""));
    }
    return fail(`unexpected character ${JSON.stringify(character)}`);
  };

  const value = parseValue();
  skipSpace();
  if (position !== text.length) fail("trailing characters");
  return value;
}
