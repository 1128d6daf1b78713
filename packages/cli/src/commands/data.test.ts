import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built `posttrain` bin against a local Hub-compatible server.
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const conversation = (index: number) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `What is ${index}+${index}?` },
      { role: "assistant", content: `${2 * index}.` },
    ],
  });
const train = `${[1, 2, 3].map(conversation).join("\n")}\n`;

let hub: TestHub;
let home: string;

/** A byte-level tokenizer (one token per UTF-8 byte, ChatML specials) written for the test. */
function writeTokenizer(directory: string): string {
  const printable = new Set<number>();
  for (const [low, high] of [
    [33, 126],
    [161, 172],
    [174, 255],
  ] as const) {
    for (let byte = low; byte <= high; byte += 1) printable.add(byte);
  }
  const vocabulary: Record<string, number> = {};
  let extra = 0;
  for (let byte = 0; byte < 256; byte += 1) {
    vocabulary[printable.has(byte) ? String.fromCharCode(byte) : String.fromCharCode(256 + extra++)] = byte;
  }
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "vocab.json"), JSON.stringify(vocabulary));
  writeFileSync(join(directory, "merges.txt"), "#version: 0.2\n");
  writeFileSync(
    join(directory, "tokenizer_config.json"),
    JSON.stringify({
      added_tokens_decoder: {
        "256": { content: "<|im_start|>", special: true },
        "257": { content: "<|im_end|>", special: true },
      },
      eos_token: "<|im_end|>",
    }),
  );
  return directory;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "posttrain-data-cli-"));
  hub = await startTestHub({
    repos: [
      {
        type: "dataset",
        name: "acme/chat",
        commits: [
          { files: { "README.md": "# v1\n", "data/train-00000-of-00001.jsonl": train } },
          {
            files: {
              "README.md": "# v2\n",
              "data/train-00000-of-00001.jsonl": `${train}${conversation(4)}\n`,
            },
          },
        ],
        branches: { main: 0 },
      },
    ],
  });
});
afterAll(async () => {
  await hub.close();
  await rm(home, { recursive: true, force: true });
});

/** The server runs in this process, so the child must be spawned asynchronously. */
function posttrain(args: string[]) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env["PATH"] ?? "", CI: "true", HF_ENDPOINT: hub.url, HF_HOME: home },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("posttrain data", () => {
  it("pull pins main to its SHA, downloads into the HF cache and counts rows", async () => {
    const output = join(home, "chat.json");
    const result = await posttrain(["data", "pull", "acme/chat", "--json", "--output", output]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const { spec, files } = JSON.parse(result.stdout) as {
      spec: { revision: string; expect: { rows: number } };
      files: Array<{ localPath: string }>;
    };
    expect(spec.revision).toBe(hub.commitShas("acme/chat", "dataset")[0]);
    expect(spec.expect.rows).toBe(3);
    expect(files[0]?.localPath.startsWith(join(home, "hub", "datasets--acme--chat", "snapshots"))).toBe(true);
    expect(JSON.parse(await readFile(output, "utf8"))).toEqual(spec);
  });

  it("lock --write fills expect in a spec file, and a changed expectation fails clearly", async () => {
    const path = join(home, "lock.json");
    writeFileSync(
      path,
      JSON.stringify({ kind: "hub", repo: "acme/chat", revision: hub.commitShas("acme/chat", "dataset")[1] }),
    );
    const locked = await posttrain(["data", "lock", path, "--write"]);
    expect(locked.status).toBe(0);
    const spec = JSON.parse(await readFile(path, "utf8"));
    expect(spec.expect.rows).toBe(4);
    writeFileSync(path, JSON.stringify({ ...spec, expect: { ...spec.expect, rows: 5 } }));
    const mismatch = await posttrain(["data", "lock", path]);
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toContain("[data_expect_mismatch]");
    expect(mismatch.stderr).toContain("4 rows, expected 5");
  });

  it("inspect shows rows, lengths and the trained spans of an example", async () => {
    const directory = join(home, "local");
    mkdirSync(join(directory, "data"), { recursive: true });
    writeFileSync(join(directory, "data", "train.jsonl"), train);
    const tokenizer = writeTokenizer(join(home, "tokenizer"));
    const result = await posttrain([
      "data",
      "inspect",
      directory,
      "--tokenizer",
      tokenizer,
      "--chat-template",
      "chatml",
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("rows              3");
    expect(result.stdout).toContain(
      "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n⟦2.<|im_end|>\n⟧",
    );
    const file = join(directory, "data", "train.jsonl");
    const json = await posttrain([
      "data",
      "inspect",
      file,
      "--tokenizer",
      tokenizer,
      "--chat-template",
      "tulu",
      "--json",
    ]);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      rows: 3,
      malformed: { malformed: 0 },
      lengths: { minimum: 39 },
    }); // "<|user|>\nWhat is 1+1?\n<|assistant|>\n2." in bytes + eos
    const noTemplate = await posttrain(["data", "inspect", file, "--tokenizer", tokenizer]);
    expect(noTemplate.status).toBe(1);
    expect(noTemplate.stderr).toContain("[data_tokenizer_invalid]");
  });

  it("inspect does not merge a folder's configs: it lists them, --config picks one; --help marks --tokenizer required", async () => {
    const directory = join(home, "several");
    mkdirSync(join(directory, "sft"), { recursive: true });
    mkdirSync(join(directory, "rlvr"), { recursive: true });
    writeFileSync(join(directory, "sft", "train.jsonl"), train);
    const prompt = (index: number) =>
      JSON.stringify({
        messages: [{ role: "user", content: `What is ${index}+${index}?` }],
        ground_truth: String(2 * index),
        dataset: "gsm8k",
      });
    writeFileSync(join(directory, "rlvr", "train.jsonl"), `${[1, 2].map(prompt).join("\n")}\n`);
    const tokenizer = writeTokenizer(join(home, "tokenizer-several"));
    const args = ["data", "inspect", directory, "--tokenizer", tokenizer, "--chat-template", "chatml"];
    const ambiguous = await posttrain(args);
    expect(ambiguous.status).toBe(2);
    expect(ambiguous.stderr).toContain("holds 2 configs (rlvr, sft): choose one with --config <name>");
    const rlvr = await posttrain([...args, "--config", "rlvr", "--format", "rlvr", "--json"]);
    expect(rlvr.status, rlvr.stderr).toBe(0);
    expect(JSON.parse(rlvr.stdout)).toMatchObject({ format: "rlvr", rows: 2, malformed: { malformed: 0 } });
    // Without --format the columns decide (ground_truth: rlvr), and the report says so; an
    // explicit --format still wins (every prompt-only row is then malformed as sft).
    const detected = await posttrain([...args, "--config", "rlvr"]);
    expect(detected.status, detected.stderr).toBe(0);
    expect(detected.stdout).toContain(
      "format            rlvr (from the columns messages, ground_truth, dataset; --format to choose)",
    );
    expect(detected.stdout).toContain("malformed         0");
    const forced = await posttrain([...args, "--config", "rlvr", "--format", "sft", "--json"]);
    expect(JSON.parse(forced.stdout)).toMatchObject({ format: "sft", malformed: { malformed: 2 } });
    const sft = await posttrain([...args, "--config", "sft", "--json"]);
    expect(JSON.parse(sft.stdout)).toMatchObject({ format: "sft", rows: 3, malformed: { malformed: 0 } });
    const unknown = await posttrain([...args, "--config", "dpo"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('has no config "dpo"; its configs: rlvr, sft');
    const help = await posttrain(["data", "inspect", "--help"]);
    expect(help.stdout).toContain(
      "Usage: posttrain data inspect <spec|path> --tokenizer <directory> [options]",
    );
    expect(help.stdout).toMatch(/--tokenizer <directory>\s+\(required\)/);
  });

  it("pull says a local folder is a local folder instead of asking the Hub for it", async () => {
    const local = await posttrain(["data", "pull", home]);
    expect(local.status).toBe(2);
    expect(local.stderr).toContain("is a local folder, not a Hub dataset");
    const absent = await posttrain(["data", "pull", "./no-such-folder"]);
    expect(absent.status).toBe(2);
    expect(absent.stderr).toContain('"owner/name"');
  });

  it("exits 2 on bad arguments", async () => {
    expect((await posttrain(["data", "inspect", "/no/such/path", "--tokenizer", "/tmp"])).status).toBe(2);
    expect((await posttrain(["data", "inspect", home, "--tokenizer", home, "--format", "chat"])).status).toBe(
      2,
    );
  });
});
