// Synthetic chat rows for the data benchmark: seeded, English-like text (a fixed word list),
// about 300 tokens per row with SmolLM2's tokenizer (or ~45 in the `short` shape). Written as gzipped JSONL in the Hub layout (`data/train-*.jsonl.gz`).
import { once } from "node:events";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createGzip } from "node:zlib";
import { Random } from "@posttrain/core";

const words = (
  "the a of to and in is that for it as with was on be by this are or from at which an have not " +
  "data model train token loss learning rate batch gradient step value function network layer output " +
  "input sequence attention weight matrix vector sample number result method example question answer " +
  "because however therefore first second third finally compute check verify measure improve reduce " +
  "large small fast slow simple complex correct wrong better worse before after during between within " +
  "Paris Berlin 2024 1998 42 3.14 x y z alpha beta gamma, (note) [ref] - ; : ! ? \"quoted\" it's don't"
).split(" ");

function sentence(random: Random, length: number): string {
  const parts: string[] = [];
  for (let index = 0; index < length; index += 1) parts.push(words[random.nextInt(words.length)]!);
  return `${parts.join(" ")}.`;
}

/**
 * One synthetic conversation. `chat`: ~300 tokens (user 4–6 sentences, assistant 11–15);
 * `short`: ~45 tokens (one sentence each), for the 1M-row streaming run.
 */
export function syntheticRow(random: Random, shape: "chat" | "short" = "chat"): Record<string, unknown> {
  const turn = (count: number) =>
    Array.from({ length: count }, () => sentence(random, 8 + random.nextInt(10))).join(" ");
  return {
    messages: [
      { role: "user", content: turn(shape === "chat" ? 4 + random.nextInt(3) : 1) },
      { role: "assistant", content: turn(shape === "chat" ? 11 + random.nextInt(5) : 1) },
    ],
  };
}

/** Writes `rows` synthetic rows to `<directory>/data/train-00000-of-00001.jsonl.gz`. */
export async function writeSyntheticSource(params: {
  directory: string;
  rows: number;
  seed: number;
  shape?: "chat" | "short";
}): Promise<string> {
  mkdirSync(join(params.directory, "data"), { recursive: true });
  const gzip = createGzip({ level: 1 });
  const file = createWriteStream(join(params.directory, "data", "train-00000-of-00001.jsonl.gz"));
  gzip.pipe(file);
  const random = Random.fromSeed(params.seed).stream("synthetic");
  for (let index = 0; index < params.rows; index += 1) {
    if (!gzip.write(`${JSON.stringify(syntheticRow(random, params.shape))}\n`)) await once(gzip, "drain");
  }
  gzip.end();
  await once(file, "close");
  return params.directory;
}
