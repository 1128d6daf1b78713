import { sha256Hex } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { gsm8kChainOfThoughtExemplars, minervaMathExemplars } from "./exemplars.js";
import { renderPrompt } from "./prompt.js";
import { getTask } from "./registry.js";

const joined = (set: ReadonlyArray<{ question: string; target: string }>) =>
  set.map((exemplar) => `${exemplar.question}\n${exemplar.target}`).join("\n\n");

describe("pinned exemplars", () => {
  it("GSM8K: the 8 Wei et al. chain-of-thought exemplars, 'So the answer is N.'", () => {
    expect(gsm8kChainOfThoughtExemplars).toHaveLength(8);
    expect(
      gsm8kChainOfThoughtExemplars.map((exemplar) => /So the answer is (\d+)\.$/.exec(exemplar.target)?.[1]),
    ).toEqual(["6", "5", "39", "8", "9", "29", "33", "8"]);
    expect(sha256Hex(joined(gsm8kChainOfThoughtExemplars))).toBe(
      "e9fe12c1b6821296a04d4e2dea6bd3a402949c57b652d8173fd54a61dd976e5b",
    );
  });

  it("Minerva: 4 exemplars with their byte-level quirks", () => {
    expect(minervaMathExemplars).toHaveLength(4);
    const [first, , third, fourth] = minervaMathExemplars;
    expect(first?.question).toContain("expression  $");
    expect(first?.question.endsWith("{\\sqrt{5-x}}$.}")).toBe(true);
    expect(third?.target).toContain("30n&=480\\\n\\Rightarrow");
    expect(third?.target).not.toContain("480\\\\");
    expect(fourth?.question).toContain("6x-4y&=a,\\\n6y-9x &=b.");
    for (const exemplar of minervaMathExemplars) {
      expect(exemplar.target).toMatch(/\nFinal Answer: The final answer is \$.+\$\. I hope it is correct\.$/);
    }
    expect(sha256Hex(joined(minervaMathExemplars))).toBe(
      "6030d8557aea1c274186f9e861102d39bfcdb4c40fe83affa6efc625b4888b1a",
    );
  });
});

describe("prompt rendering (OLMES chat format)", () => {
  const item = { index: 0, nativeId: "0", question: "What is 2 + 3?", label: "5" };

  it("GSM8K: 8 multi-turn exemplars, user 'Question: …', assistant 'Answer: …', prefix 'Answer:'", () => {
    const prompt = renderPrompt({ prompt: getTask({ name: "gsm8k" }).prompt, item });
    expect(prompt.kind).toBe("chat");
    if (prompt.kind !== "chat") return;
    expect(prompt.messages).toHaveLength(17);
    expect(prompt.messages[0]).toEqual({
      role: "user",
      content: `Question: ${gsm8kChainOfThoughtExemplars[0]?.question}`,
    });
    expect(prompt.messages[1]).toEqual({
      role: "assistant",
      content: `Answer: ${gsm8kChainOfThoughtExemplars[0]?.target}`,
    });
    expect(prompt.messages[16]).toEqual({ role: "user", content: "Question: What is 2 + 3?" });
    expect(prompt.assistantPrefix).toBe("Answer:");
  });

  it("Minerva: 'Problem:\\n…\\n\\nSolution:' user turns, solutions as assistant turns, no prefix", () => {
    const prompt = renderPrompt({ prompt: getTask({ name: "math500" }).prompt, item });
    if (prompt.kind !== "chat") throw new Error("expected chat");
    expect(prompt.messages).toHaveLength(9);
    expect(prompt.messages[0]?.content).toBe(`Problem:\n${minervaMathExemplars[0]?.question}\n\nSolution:`);
    expect(prompt.messages[1]?.content).toBe(minervaMathExemplars[0]?.target);
    expect(prompt.messages[8]?.content).toBe("Problem:\nWhat is 2 + 3?\n\nSolution:");
    expect(prompt.assistantPrefix).toBeUndefined();
  });

  it("HumanEval: the answer prefix ends the user turn and starts the assistant turn, followed by the function", () => {
    const code = 'def add(a, b):\n    """Add."""\n';
    const prompt = renderPrompt({
      prompt: getTask({ name: "humaneval" }).prompt,
      item: { ...item, question: code },
    });
    if (prompt.kind !== "chat") throw new Error("expected chat");
    expect(prompt.messages).toEqual([
      { role: "user", content: `${code}Here is the completed function:\n\n\`\`\`python\n` },
    ]);
    expect(prompt.assistantPrefix).toBe(`Here is the completed function:\n\n\`\`\`python\n${code}`);
  });

  it("completion style joins exemplars with blank lines and ends with the prefix", () => {
    const spec = { ...getTask({ name: "gsm8k" }).prompt, style: "completion" as const, shots: 2 };
    const prompt = renderPrompt({ prompt: spec, item });
    if (prompt.kind !== "text") throw new Error("expected text");
    expect(prompt.text).toBe(
      `Question: ${gsm8kChainOfThoughtExemplars[0]?.question}\nAnswer: ${gsm8kChainOfThoughtExemplars[0]?.target}\n\n` +
        `Question: ${gsm8kChainOfThoughtExemplars[1]?.question}\nAnswer: ${gsm8kChainOfThoughtExemplars[1]?.target}\n\n` +
        "Question: What is 2 + 3?\nAnswer:",
    );
  });
});
