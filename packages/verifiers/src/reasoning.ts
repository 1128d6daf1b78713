/**
 * Reasoning-block stripping, applied to every response before a verifier judges it (unless
 * turned off): a verdict must depend on the answer, never on what the model "thought".
 *
 * Rules (a superset of open-instruct's `remove_thinking_section`):
 * - text after the LAST `</think>` is kept (so `<think>…</think> answer` → `answer`);
 * - an opened but never closed `<think>` (a truncated reasoning block) keeps only the text
 *   before it: what follows is reasoning, not an answer;
 * - otherwise the response is returned unchanged (trimmed).
 */
export function stripReasoning(params: { response: string }): string {
  const { response } = params;
  const close = response.lastIndexOf("</think>");
  if (close >= 0) return response.slice(close + "</think>".length).trim();
  const open = response.indexOf("<think>");
  if (open >= 0) return response.slice(0, open).trim();
  return response.trim();
}

/**
 * open-instruct's `remove_thinking_section`, used inside the string verifiers (`string_f1`,
 * `puzzle`) whatever the runner did: drop `<|assistant|>`, strip, keep the text after the
 * last `</think>`, remove every `<answer>` and `</answer>`, strip.
 */
export function removeThinkingSection(params: { response: string }): string {
  const text = params.response.replaceAll("<|assistant|>", "").trim();
  const close = text.lastIndexOf("</think>");
  const answer = close >= 0 ? text.slice(close + "</think>".length) : text;
  return answer.replaceAll("<answer>", "").replaceAll("</answer>", "").trim();
}
