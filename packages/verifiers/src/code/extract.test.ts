import { describe, expect, it } from "vitest";
import { extractCodeBlock } from "./extract.js";

describe("extractCodeBlock", () => {
  it("takes the last python block", () => {
    const response = "first\n```python\nx = 1\n```\nthen\n```python\nx = 2\n```\nbye";
    expect(extractCodeBlock({ response, language: "python" })).toBe("x = 2");
  });

  it("prefers a block tagged with the language over a later untagged one", () => {
    const response = "```python\nx = 1\n```\noutput:\n```\n1\n```";
    expect(extractCodeBlock({ response, language: "python" })).toBe("x = 1");
  });

  it("accepts py / js / ts tags", () => {
    expect(extractCodeBlock({ response: "```py\nprint(1)\n```", language: "python" })).toBe("print(1)");
    expect(extractCodeBlock({ response: "```js\nconsole.log(1)\n```", language: "javascript" })).toBe(
      "console.log(1)",
    );
    expect(extractCodeBlock({ response: "```ts\nlet a: number = 1\n```", language: "typescript" })).toBe(
      "let a: number = 1",
    );
  });

  it("falls back to the last untagged block", () => {
    expect(extractCodeBlock({ response: "```\ndef f():\n    return 1\n```", language: "python" })).toBe(
      "def f():\n    return 1",
    );
  });

  it("falls back to the whole response when there is no fence (open-instruct)", () => {
    expect(extractCodeBlock({ response: "  def f():\n    return 1\n", language: "python" })).toBe(
      "def f():\n    return 1",
    );
  });

  it("returns null when only other languages are fenced, or the response is empty", () => {
    expect(extractCodeBlock({ response: "```bash\nls\n```", language: "python" })).toBeNull();
    expect(extractCodeBlock({ response: "   ", language: "python" })).toBeNull();
  });

  it("pairs fences left to right like open-instruct's regex", () => {
    // An unclosed trailing fence does not open a block.
    const response = "```python\na = 1\n```\n```python\nb = 2";
    expect(extractCodeBlock({ response, language: "python" })).toBe("a = 1");
  });
});
