/**
 * Reward-hacking probes for tool use (issue 19, item 7). What counts as legitimate is in
 * README.md ("Reward hacking"): a tool computes; it never sees the ground truth, the host's
 * files, environment, processes or network; its output is masked from the loss and never
 * scored — only the model's own last turn is.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinToolRegistry } from "./builtins.js";
import { callTool, observationText } from "./call-tool.js";
import type { ConversationGenerator, GeneratedTurn, TurnRequest } from "./driver.js";
import { runToolConversations } from "./driver.js";
import { createTagFormat } from "./formats/tags.js";

const registry = builtinToolRegistry();
// Generous wall limits: the machine running the tests may be loaded; the bounds, not speed, are tested.
const limits = { timeoutMilliseconds: 20_000, maxOutputCharacters: 2000 };
const python = async (code: string) =>
  observationText({
    observation: await callTool({ registry, call: { name: "python", arguments: { code } }, limits }),
  });

const answer = "73919481517";
let directory = "";
let groundTruthPath = "";

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "posttrain-probe-"));
  groundTruthPath = join(directory, "ground_truth.jsonl");
  await writeFile(groundTruthPath, JSON.stringify({ ground_truth: answer }));
  process.env.POSTTRAIN_PROBE_ANSWER = answer;
});
afterAll(async () => {
  delete process.env.POSTTRAIN_PROBE_ANSWER;
  await rm(directory, { recursive: true, force: true });
});

describe("a tool call cannot reach the ground truth", () => {
  it("cannot read the dataset file by its path, nor find it by listing", async () => {
    const read = await python(`print(open(${JSON.stringify(groundTruthPath)}).read())`);
    expect(read).not.toContain(answer);
    expect(read).toMatch(/FileNotFoundError|PermissionError|No such file/);
    const walk = await python(
      "import os\nfor root in ['/tmp', os.getcwd(), os.path.expanduser('~'), '/work', '/root']:\n  try:\n    for d, _, files in os.walk(root):\n      for f in files:\n        p = os.path.join(d, f)\n        try:\n          t = open(p, errors='ignore').read(100000)\n          if 'ground_truth' in t: print('FOUND', p, t)\n        except Exception: pass\n  except Exception as e: print(e)",
    );
    expect(walk).not.toContain(answer);
  });

  it("sees none of the host's environment variables", async () => {
    const environment = await python("import os\nprint(dict(os.environ))");
    expect(environment).not.toContain(answer);
    expect(environment).not.toContain("POSTTRAIN_PROBE_ANSWER");
  });

  it("cannot read the trainer's process (its memory, environment, command line)", async () => {
    const output = await python(
      `import os\nfor pid in [${process.pid}, ${process.ppid}, 1]:\n  for name in ['environ', 'cmdline']:\n    try: print(open(f'/proc/{pid}/{name}', 'rb').read())\n    except Exception as e: print(type(e).__name__)`,
    );
    expect(output).not.toContain(answer);
  });

  it("cannot reach a server on the host", async () => {
    const server = createServer((socket) => socket.end(answer));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const output = await python(
        `import socket\ntry:\n  s = socket.create_connection(('127.0.0.1', ${port}), timeout=1)\n  print(s.recv(100))\nexcept Exception as e: print(type(e).__name__)`,
      );
      expect(output).not.toContain(answer);
    } finally {
      server.close();
    }
  });
});

describe("a tool call cannot exhaust the run", () => {
  it("an infinite loop ends as a timeout observation within the limit", async () => {
    const started = Date.now();
    const observation = await callTool({
      registry,
      call: { name: "python", arguments: { code: "while True:\n  pass" } },
      limits: { timeoutMilliseconds: 1000, maxOutputCharacters: 100 },
    });
    expect(observation.error).toMatch(/timed out/);
    // Bounded by the call's limit plus process teardown (not a timing assertion on speed).
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("a huge output is cut (the process is killed) and the observation stays small", async () => {
    const observation = await callTool({
      registry,
      call: { name: "python", arguments: { code: "while True:\n  print('x' * 10000)" } },
      limits: { timeoutMilliseconds: 20_000, maxOutputCharacters: 500 },
    });
    expect(observation.truncated).toBe(true);
    expect(observation.output.length).toBeLessThan(600);
  });
});

describe("copying a tool's output does not put it in the scored answer", () => {
  it("the scored text is the model's last turn; tool output is masked and never scored", async () => {
    // A scripted generator: turn 1 calls python, turn 2 answers. The tool prints an
    // answer-formatted line; the scored text is only what the model itself wrote after it.
    const script = ["<code>print('#### 42')</code>", "I will not say it."];
    const encode = (text: string) => [...text].map((character) => character.codePointAt(0)!);
    const decode = (ids: readonly number[]) => String.fromCodePoint(...ids);
    const calls: number[] = [];
    const generator: ConversationGenerator = {
      async generateTurns({ requests }: { requests: readonly TurnRequest[] }): Promise<GeneratedTurn[]> {
        return requests.map((request) => {
          const index = calls.filter((id) => id === request.id).length;
          calls.push(request.id);
          const text = script[index]!;
          const tokenIds = encode(text);
          return {
            id: request.id,
            tokenIds,
            modelLogProbs: tokenIds.map(() => -1),
            samplingLogProbs: tokenIds.map(() => -1),
            text,
            finishReason: index === 0 ? "stop" : "eos",
          };
        });
      },
      release() {},
    };
    const { rollouts } = await runToolConversations({
      generator,
      tokenizer: { encode, decode },
      eosTokenIds: [],
      registry,
      format: createTagFormat({ registry, callNames: { code: "python" } }),
      conversations: [{ promptTokenIds: encode("q") }],
      maxToolCalls: 2,
      maxTotalTokens: 500,
      limits,
    });
    const [rollout] = rollouts;
    expect(rollout!.segments.map((segment) => segment.source)).toEqual(["model", "tool", "model"]);
    expect(rollout!.segments[1]!.text).toBe("<output>\n#### 42\n\n</output>\n");
    expect(rollout!.finalTurnText).toBe("I will not say it.");
    expect(rollout!.finalTurnText).not.toContain("42");
  });
});
