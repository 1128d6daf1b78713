import { describe, expect, it } from "vitest";
import { isPythonJson } from "./json-check.js";
import { countSentences, punktSentences } from "./punkt.js";
import {
  countKeywordMatches,
  pythonIsLower,
  pythonIsUpper,
  pythonSplitWhitespace,
  pythonStrip,
} from "./python-text.js";
import { splitIntoSentences } from "./sentence-split.js";
import { countWords, treebankTokenize, wordTokenize } from "./word-tokenize.js";

describe("Python string semantics", () => {
  it("strips Python's whitespace set (not U+FEFF, but U+001C and U+0085)", () => {
    expect(pythonStrip("\u001c\u0085 a \t")).toBe("a");
    expect(pythonStrip("\ufeffa")).toBe("\ufeffa");
  });

  it("splits on whitespace runs like str.split()", () => {
    expect(pythonSplitWhitespace("  a \n\n b\u3000c ")).toEqual(["a", "b", "c"]);
    expect(pythonSplitWhitespace("   ")).toEqual([]);
  });

  it("isupper / islower need a cased character", () => {
    expect(pythonIsUpper("HELLO, WORLD 42")).toBe(true);
    expect(pythonIsUpper("Hello")).toBe(false);
    expect(pythonIsUpper("42 !")).toBe(false);
    expect(pythonIsLower("straße 42")).toBe(true);
    expect(pythonIsLower("42")).toBe(false);
    expect(pythonIsUpper("\u01c5")).toBe(false); // titlecase "ǅ" is cased but not uppercase
    expect(pythonIsLower("\u01c5")).toBe(false);
  });

  it("counts keyword matches as a case-insensitive regex, non-overlapping", () => {
    expect(countKeywordMatches({ keyword: "aa", text: "AAAA aa" })).toBe(3);
    expect(countKeywordMatches({ keyword: "c++", text: "I like C++ and c++" })).toBe(2); // invalid regex → literal
  });

  it("accepts what json.loads accepts", () => {
    expect(isPythonJson('{"a": [1, 2.5, null, true]}')).toBe(true);
    expect(isPythonJson('{"a": NaN, "b": -Infinity}')).toBe(true);
    expect(isPythonJson('{"text": "NaN"} trailing')).toBe(false);
    expect(isPythonJson("{'a': 1}")).toBe(false);
  });
});

describe("Google's split_into_sentences", () => {
  it("protects honorifics, decimals, acronyms and websites", () => {
    expect(splitIntoSentences("Mr. Smith paid 3.50 dollars at example.com. He left!")).toEqual([
      "Mr. Smith paid 3.50 dollars at example.com.",
      "He left!",
    ]);
    expect(splitIntoSentences("The U.S.A. is big. Really?")).toEqual(["The U.S.A. is big.", "Really?"]);
  });

  it("treats an ellipsis as one break and moves a period outside closing quotes", () => {
    expect(splitIntoSentences("Wait... what")).toEqual(["Wait...", "what"]);
    expect(splitIntoSentences('He said "hi." Then left.')).toEqual(['He said "hi".', "Then left."]);
  });

  it("ignores newlines and returns nothing for empty text", () => {
    expect(splitIntoSentences("one\ntwo.")).toEqual(["one two."]);
    expect(splitIntoSentences("")).toEqual([]);
  });
});

describe("Punkt-style sentence counting", () => {
  it("splits on . ? ! followed by another token", () => {
    expect(countSentences("One. Two! Three? Four")).toBe(4);
    expect(countSentences("Trailing period.  ")).toBe(1);
    expect(countSentences("")).toBe(0);
    expect(countSentences("   ")).toBe(0);
  });

  it("treats a detached period as a sentence end and a detached ellipsis as none", () => {
    expect(countSentences("First part . Second part")).toBe(2);
    expect(countSentences("Wait ... and see")).toBe(1);
    // Like Punkt, a list number before a capitalised word is its own sentence: "1." | "Buy milk\n2." | "Buy eggs"
    expect(punktSentences("1. Buy milk\n2. Buy eggs")).toEqual(["1.", "Buy milk\n2.", "Buy eggs"]);
    expect(countSentences("Chapter 2. then more")).toBe(1); // a number before a lowercase word does not
  });

  it("keeps abbreviations, initials and decimals inside a sentence", () => {
    expect(countSentences("Dr. Smith met Mr. Jones at 3.30 p.m. on Monday.")).toBe(1);
    expect(countSentences("J. R. R. Tolkien wrote books.")).toBe(1);
    expect(countSentences("Apples, pears, etc. are fruit.")).toBe(1);
  });

  it("still breaks after an abbreviation followed by a common sentence starter", () => {
    expect(countSentences("I bought apples, pears, etc. The rest was cheap.")).toBe(2);
  });

  it("does not break on newlines alone and keeps closing quotes with their sentence", () => {
    expect(countSentences("Line one\nLine two")).toBe(1);
    expect(punktSentences('He said "Stop." Then he left.')).toEqual(['He said "Stop."', "Then he left."]);
  });
});

describe("nltk.word_tokenize", () => {
  it("matches NLTK's documented examples", () => {
    expect(
      wordTokenize("Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks."),
    ).toEqual([
      "Good",
      "muffins",
      "cost",
      "$",
      "3.88",
      "in",
      "New",
      "York",
      ".",
      "Please",
      "buy",
      "me",
      "two",
      "of",
      "them",
      ".",
      "Thanks",
      ".",
    ]);
    expect(treebankTokenize("They'll save and invest more.")).toEqual([
      "They",
      "'ll",
      "save",
      "and",
      "invest",
      "more",
      ".",
    ]);
    expect(treebankTokenize("hi, my name can't hello,")).toEqual([
      "hi",
      ",",
      "my",
      "name",
      "ca",
      "n't",
      "hello",
      ",",
    ]);
  });

  it("splits quotes, brackets and dashes", () => {
    expect(treebankTokenize('"Hello" (world) -- ok')).toEqual([
      "``",
      "Hello",
      "''",
      "(",
      "world",
      ")",
      "--",
      "ok",
    ]);
    expect(treebankTokenize("I cannot go")).toEqual(["I", "can", "not", "go"]);
  });
});

describe("count_words", () => {
  it("counts \\w+ runs (Unicode letters and digits)", () => {
    expect(countWords("Hello, world! 42 times; naïve café")).toBe(6);
    expect(countWords("*** --- !!!")).toBe(0);
    expect(countWords("snake_case is one")).toBe(3);
  });
});
