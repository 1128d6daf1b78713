import { DataError } from "./errors.js";

/** GPT-2's pre-tokenization split (used by byte-level BPE vocabularies under 100k tokens). */
const gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** tiktoken cl100k's split, used by cl100k-derived vocabularies such as OLMo 2's (100,278 tokens). */
const cl100kPattern =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Builds a `tokenizer.json` object for a byte-level BPE tokenizer shipped only as
 * `vocab.json` + `merges.txt` (e.g. OLMo 2's public copy). The split pattern is chosen by
 * vocabulary size: 100k tokens or more means a cl100k-derived vocabulary (cl100k split and
 * whole-word lookup before merges, as tiktoken does), otherwise GPT-2's split. Added
 * tokens come from `tokenizer_config.json`'s `added_tokens_decoder`.
 */
export function tokenizerJsonFromVocabulary(params: {
  vocabulary: Record<string, number>;
  merges: string;
  config: Record<string, unknown>;
}): Record<string, unknown> {
  const merges = params.merges
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#version"))
    .map((line) => {
      const parts = line.split(" ");
      if (parts.length !== 2) {
        throw new DataError({
          code: "data_tokenizer_invalid",
          message: `merges.txt has a malformed line: ${line}`,
        });
      }
      return parts;
    });
  const decoderTable = params.config["added_tokens_decoder"];
  const addedTokens =
    typeof decoderTable === "object" && decoderTable !== null
      ? Object.entries(decoderTable as Record<string, Record<string, unknown>>).map(([id, token]) => ({
          id: Number(id),
          content: String(token["content"]),
          single_word: token["single_word"] === true,
          lstrip: token["lstrip"] === true,
          rstrip: token["rstrip"] === true,
          normalized: token["normalized"] === true,
          special: token["special"] !== false,
        }))
      : [];
  const large = Object.keys(params.vocabulary).length >= 100_000;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: { Regex: large ? cl100kPattern : gpt2Pattern },
          behavior: "Isolated",
          invert: false,
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: large,
      vocab: params.vocabulary,
      merges,
    },
  };
}
