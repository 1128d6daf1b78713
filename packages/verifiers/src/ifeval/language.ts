import { pythonSplitWhitespace } from "./python-text.js";

/**
 * Language identification for `language:response_language`, `change_case:english_capital`
 * and `change_case:english_lowercase`.
 *
 * Google's reference uses `langdetect` (a port of Shuyo's 2010 n-gram detector, unmaintained,
 * and non-deterministic on short text unless seeded). We use `eld` (Efficient Language
 * Detector, maintained, deterministic, 60 languages, pure JavaScript), medium database.
 * Semantics kept from the reference: when no language can be identified (no letters at all:
 * digits, punctuation, empty text — where langdetect raises `LangDetectException`), the
 * instruction counts as followed.
 *
 * Two IFEval target languages are not in eld's set: Nepali (`ne`) and Swahili (`sw`).
 * - `ne`: accepted when eld reports a Devanagari language (`hi`, `mr`, `ne`) — eld cannot tell
 *   Nepali from Hindi or Marathi, so a Hindi answer to a Nepali prompt also passes.
 * - `sw`: accepted when at least 20% of the whitespace-separated words are common Swahili
 *   function words (na, ya, wa, kwa, ni, …) and eld does not report a language it is
 *   confident about with a non-Latin script.
 */
export interface LanguageDetector {
  /** ISO 639-1 code, or `undefined` when the text has nothing to identify. */
  detect(text: string): string | undefined;
}

let loading: Promise<LanguageDetector> | undefined;

/** langdetect's `max_text_length`: the characters of a text it looks at. */
export const languageDetectionCharacters = 10_000;

/** Loads eld's medium n-gram database once per process (about 2 MB, under a second). */
export function loadLanguageDetector(): Promise<LanguageDetector> {
  loading ??= import("eld/medium").then(({ eld }) => {
    const instance = eld.newInstance();
    return {
      detect(text: string): string | undefined {
        // langdetect reads at most the first 10,000 characters (`Detector.max_text_length`);
        // so do we, which also bounds the time of a detection.
        const language = instance.detect(text.slice(0, languageDetectionCharacters)).language;
        return language === "" ? undefined : language;
      },
    };
  });
  return loading;
}

const swahiliFunctionWords = new Set([
  "na",
  "ya",
  "wa",
  "kwa",
  "ni",
  "za",
  "katika",
  "la",
  "hii",
  "kama",
  "au",
  "cha",
  "vya",
  "si",
  "pia",
  "hiyo",
  "ili",
  "kuwa",
  "sana",
  "huo",
  "yake",
  "wake",
  "zao",
  "yao",
  "hivyo",
  "lakini",
  "kwamba",
  "wakati",
  "baada",
  "kabla",
  "kutoka",
  "mimi",
  "wewe",
  "yeye",
  "sisi",
  "ninyi",
  "wao",
  "hapa",
  "pa",
]);

function looksSwahili(text: string): boolean {
  const words = pythonSplitWhitespace(text.toLowerCase()).map((word) => word.replace(/[^\p{L}]/gu, ""));
  const counted = words.filter((word) => word !== "");
  if (counted.length === 0) return false;
  const hits = counted.filter((word) => swahiliFunctionWords.has(word)).length;
  return hits / counted.length >= 0.2;
}

/**
 * `langdetect.detect(text) == language`, with the reference's "undetectable counts as
 * followed" rule and the `ne` / `sw` substitutes described above.
 */
export function isLanguage(params: { detector: LanguageDetector; text: string; language: string }): boolean {
  const detected = params.detector.detect(params.text);
  if (detected === undefined) return true;
  if (params.language === "ne") return detected === "ne" || detected === "hi" || detected === "mr";
  if (params.language === "sw") return looksSwahili(params.text);
  return detected === params.language;
}
