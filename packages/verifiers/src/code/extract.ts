import type { ProgramLanguage } from "./environment.js";

const languageTags: Record<ProgramLanguage, readonly string[]> = {
  python: ["python", "python3", "py", "py3"],
  javascript: ["javascript", "js", "node", "nodejs", "mjs", "cjs"],
  typescript: ["typescript", "ts"],
};

/** One fenced block: its info-string tag (lowercased, "" when untagged) and its content. */
interface FencedBlock {
  tag: string;
  content: string;
}

/**
 * Fences are paired left to right exactly like open-instruct's
 * ```` re.findall(r"```(?:python)?(.*?)```", text, re.DOTALL) ````: the first "```" opens,
 * the next closes, and so on. The tag is the word right after the opening fence.
 */
function fencedBlocks(response: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const pattern = /```([\w+#.-]*)([\s\S]*?)```/g;
  for (const match of response.matchAll(pattern)) {
    const tag = (match[1] ?? "").toLowerCase();
    blocks.push({ tag, content: (match[2] ?? "").trim() });
  }
  return blocks;
}

/**
 * The program in a model response: the last fenced block tagged with `language` (e.g.
 * ```` ```python ````, ```` ```py ````); else the last untagged block; else, when the
 * response has no fence at all, the whole response — open-instruct's fallback, so a bare
 * program still runs. Returns null when the only blocks are tagged with other languages.
 * Content is trimmed, as open-instruct does.
 */
export function extractCodeBlock({
  response,
  language,
}: {
  response: string;
  language: ProgramLanguage;
}): string | null {
  const blocks = fencedBlocks(response);
  if (blocks.length === 0) {
    const whole = response.trim();
    return whole === "" ? null : whole;
  }
  const tags = languageTags[language];
  for (let index = blocks.length - 1; index >= 0; index -= 1) {
    const block = blocks[index] as FencedBlock;
    if (tags.includes(block.tag)) return block.content;
  }
  for (let index = blocks.length - 1; index >= 0; index -= 1) {
    const block = blocks[index] as FencedBlock;
    if (block.tag === "") return block.content;
  }
  return null;
}
