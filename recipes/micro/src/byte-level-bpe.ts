/**
 * A small, deterministic byte-level BPE trainer (GPT-2 conventions: bytes mapped to
 * printable characters, GPT-2's pre-tokenization split, merges learned greedily by pair
 * frequency with ties broken by the pair's text). It trains the micro recipe's tokenizer
 * on its own synthetic corpus in well under a second, so the tokenizer ships as generated
 * output, not as a download. The result loads in Hugging Face tokenizers/transformers as a
 * standard byte-level BPE (`vocab.json` + `merges.txt` + `tokenizer.json`).
 */

/** GPT-2's pre-tokenization split (what `tokenizer.json` declares for vocabularies under 100k). */
const gpt2Split = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte → printable-character table, in byte order. */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let code = 33; code <= 126; code += 1) printable.push(code);
  for (let code = 161; code <= 172; code += 1) printable.push(code);
  for (let code = 174; code <= 255; code += 1) printable.push(code);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let byte = 0; byte < 256; byte += 1) {
    table[byte] = printable.includes(byte) ? String.fromCodePoint(byte) : String.fromCodePoint(256 + extra++);
  }
  return table;
}

export interface TrainedBytePairEncoding {
  /** token → id: special tokens first, then the 256 byte symbols, then one per merge. */
  vocabulary: Record<string, number>;
  /** Merges in priority order, each `left right`. */
  merges: string[];
}

/**
 * Learns up to `vocabularySize − specialTokens.length − 256` merges from `texts`.
 * Special tokens are never split and never take part in merges.
 */
export function trainByteLevelBpe(params: {
  texts: Iterable<string>;
  vocabularySize: number;
  specialTokens: readonly string[];
}): TrainedBytePairEncoding {
  const table = byteToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  const specialPattern = new RegExp(
    params.specialTokens.map((token) => token.replace(/[|\\^$*+?.()[\]{}]/g, "\\$&")).join("|"),
    "g",
  );
  for (const text of params.texts) {
    for (const piece of text.split(specialPattern)) {
      for (const match of piece.matchAll(gpt2Split)) {
        const word = Array.from(encoder.encode(match[0]), (byte) => table[byte]!).join("");
        wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
      }
    }
  }
  // Each distinct word as its current symbol sequence, with its corpus count.
  const words = [...wordCounts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([word, count]) => ({ symbols: Array.from(word), count }));
  const merges: string[] = [];
  const mergeBudget = params.vocabularySize - params.specialTokens.length - 256;
  while (merges.length < mergeBudget) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let index = 0; index + 1 < symbols.length; index += 1) {
        const pair = `${symbols[index]} ${symbols[index + 1]}`;
        pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1; // a pair seen once is not worth a token
    for (const [pair, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    merges.push(best);
    const [left, right] = best.split(" ") as [string, string];
    const merged = left + right;
    for (const word of words) {
      const next: string[] = [];
      for (let index = 0; index < word.symbols.length; index += 1) {
        if (word.symbols[index] === left && word.symbols[index + 1] === right) {
          next.push(merged);
          index += 1;
        } else next.push(word.symbols[index]!);
      }
      word.symbols = next;
    }
  }
  const vocabulary: Record<string, number> = {};
  let id = 0;
  for (const token of params.specialTokens) vocabulary[token] = id++;
  for (const symbol of table) vocabulary[symbol] = id++;
  for (const merge of merges) {
    const token = merge.replace(" ", "");
    if (vocabulary[token] === undefined) vocabulary[token] = id++; // two merges may spell one token
  }
  return { vocabulary, merges };
}
