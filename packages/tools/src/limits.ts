import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import type { ToolLimits } from "./types.js";

/**
 * Limits of every tool call (zod-validated): `timeoutMilliseconds` (default 3000, open-instruct's
 * python tool timeout; 10 ms to 10 min) and `maxOutputCharacters` (default 4000; 16 to 1 MiB).
 */
export const toolLimitsSchema = z
  .object({
    timeoutMilliseconds: z.number().int().min(10).max(600_000).default(3000),
    maxOutputCharacters: z
      .number()
      .int()
      .min(16)
      .max(1024 * 1024)
      .default(4000),
  })
  .strict();

export type ToolLimitsInput = z.input<typeof toolLimitsSchema>;

/** Parses limits (defaults filled); names the wrong field on error. */
export function parseToolLimits(params: { limits?: ToolLimitsInput | undefined }): ToolLimits {
  return parseWithSchema({ schema: toolLimitsSchema, value: params.limits ?? {}, label: "tool limits" });
}

/** Cuts `text` to `maxCharacters` (whole code points), saying how much was cut. */
export function truncateText(params: { text: string; maxCharacters: number }): {
  text: string;
  truncated: boolean;
} {
  const { text, maxCharacters } = params;
  if (text.length <= maxCharacters) return { text, truncated: false };
  let cut = maxCharacters;
  // Do not split a surrogate pair.
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return { text: `${text.slice(0, cut)}\n[truncated ${text.length - cut} characters]`, truncated: true };
}
