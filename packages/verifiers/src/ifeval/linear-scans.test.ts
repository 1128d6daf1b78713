// The linear scans that replaced backtracking regexes (issue 23) must find exactly what the
// regexes found: differential tests on many random short strings over the characters each
// pattern reacts to. (Timing lives in bench:verifiers, never here.)
import { describe, expect, it } from "vitest";
import { countBullets } from "./instructions-google.js";
import { punktCandidates } from "./punkt.js";
import {
  countDelimitedSpans,
  hasVisibleCharacter,
  pythonLeftStrip,
  pythonRightStrip,
  pythonSpace,
  pythonStrip,
} from "./python-text.js";
import { instructionRegistry } from "./registry.js";

/** A deterministic pseudo-random stream (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

function strings(params: {
  alphabet: string[];
  count: number;
  maximumLength: number;
  seed: number;
}): string[] {
  const next = random(params.seed);
  return Array.from({ length: params.count }, () => {
    const length = Math.floor(next() * params.maximumLength);
    return Array.from({ length }, () => params.alphabet[Math.floor(next() * params.alphabet.length)]).join(
      "",
    );
  });
}

describe("countDelimitedSpans = len(re.findall(open[^\\n]*?close))", () => {
  it("matches the regex for [ ] and << >>", () => {
    for (const text of strings({
      alphabet: ["[", "]", "a", "\n", " "],
      count: 3000,
      maximumLength: 14,
      seed: 1,
    }))
      expect(countDelimitedSpans({ text, open: "[", close: "]" }), JSON.stringify(text)).toBe(
        text.match(/\[[^\n]*?\]/gu)?.length ?? 0,
      );
    for (const text of strings({ alphabet: ["<", ">", "a", "\n"], count: 3000, maximumLength: 14, seed: 2 }))
      expect(countDelimitedSpans({ text, open: "<<", close: ">>" }), JSON.stringify(text)).toBe(
        text.match(/<<[^\n]*?>>/gu)?.length ?? 0,
      );
  });
});

describe("countBullets = MULTILINE ^\\s*\\*[^*].*$ plus ^\\s*-.*$", () => {
  const bulletStar = new RegExp(`(?<![^\\n])${pythonSpace}*\\*[^*][^\\n]*`, "gu");
  const bulletDash = new RegExp(`(?<![^\\n])${pythonSpace}*-[^\\n]*`, "gu");
  it("matches the regexes", () => {
    for (const text of strings({
      alphabet: ["*", "-", "a", "\n", " ", "\t"],
      count: 4000,
      maximumLength: 12,
      seed: 3,
    }))
      expect(countBullets(text), JSON.stringify(text)).toBe(
        (text.match(bulletStar)?.length ?? 0) + (text.match(bulletDash)?.length ?? 0),
      );
  });
});

describe("punktCandidates = Punkt's \\S*[.?!](?=([?!)\";}\\]*:@'({\\[])|\\s+(\\S+))", () => {
  const candidatePattern = new RegExp(
    `[^\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[.?!](?=([?!)";}\\]*:@'({\\[])|${pythonSpace}+([^\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+))`,
    "gu",
  );
  it("finds the same matches and next tokens", () => {
    const alphabet = [".", "?", "!", "a", "B", " ", "\n", ")", '"', "[", "x"];
    for (const text of strings({ alphabet, count: 4000, maximumLength: 14, seed: 4 })) {
      const expected = [...text.matchAll(candidatePattern)].map((match) => ({
        start: match.index,
        end: match.index + match[0].length,
        next: match[2],
      }));
      expect([...punktCandidates(text)], JSON.stringify(text)).toEqual(expected);
    }
  });
});

describe("linear strip and visibility", () => {
  it("strips like the regexes did", () => {
    const leading = new RegExp(`^${pythonSpace}+`, "u");
    const trailing = new RegExp(`${pythonSpace}+$`, "u");
    for (const text of strings({
      alphabet: [" ", "\t", "\u0085", "\u3000", "\ufeff", "a", "\u200b"],
      count: 2000,
      maximumLength: 8,
      seed: 5,
    })) {
      expect(pythonLeftStrip(text)).toBe(text.replace(leading, ""));
      expect(pythonRightStrip(text)).toBe(text.replace(trailing, ""));
      expect(pythonStrip(text)).toBe(text.replace(leading, "").replace(trailing, ""));
    }
  });
  it("has no visible character: whitespace, controls, format and default-ignorable characters only", () => {
    for (const text of ["", " \n", "\u200b", "\u0000\u0000", "\ufeff\u2060\u00ad", "\ufe0f", "\u115f"])
      expect(hasVisibleCharacter(text), JSON.stringify(text)).toBe(false);
    for (const text of ["x", "\u200bx", ".", "—", "é", "😀", "\u0301a"])
      expect(hasVisibleCharacter(text), JSON.stringify(text)).toBe(true);
  });
});

describe("detectable_format:title = some non-blank title in re.findall(<<[^\\n]+>>)", () => {
  it("matches the regex verdict", () => {
    const title = instructionRegistry.get("detectable_format:title")!;
    const context = { languageDetector: undefined, prompt: undefined };
    for (const text of strings({
      alphabet: ["<", ">", "a", " ", "\n"],
      count: 4000,
      maximumLength: 12,
      seed: 6,
    })) {
      const expected = (text.match(/<<[^\n]+>>/gu) ?? []).some(
        (found) => found.replace(/^<+/u, "").replace(/>+$/u, "").trim() !== "",
      );
      expect(title.check({ response: text, kwargs: {}, context }), JSON.stringify(text)).toBe(expected);
    }
  });
});
