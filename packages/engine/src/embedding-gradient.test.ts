import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { emitModel } from "./emit.js";
import { GraphBuilder } from "./graph.js";
import { compileGraph } from "./runtime.js";

// The embedding gradient (a scatter-add of token rows into the table) must not depend on the
// intra-op thread count or on the run: ORT's ScatterND(add) raced on repeated token ids with
// 2 threads and gave a different gradient (and so a different trained model) on every run.
describe("embeddingBackward", () => {
  const vocabulary = 64;
  const width = 128;
  const [batch, sequence] = [8, 256];
  const tokens = batch * sequence;
  const random = Random.fromSeed(3);
  // Few distinct ids: every table row receives hundreds of updates.
  const ids = BigInt64Array.from({ length: tokens }, () => BigInt(random.nextInt(8)));
  const rowGradients = Float32Array.from({ length: tokens * width }, () => random.nextNormal());

  /** The float32 sum in token order, the order one thread adds in. */
  function sequentialSum(): Float32Array {
    const table = new Float32Array(vocabulary * width);
    for (let token = 0; token < tokens; token += 1) {
      const row = Number(ids[token]);
      for (let column = 0; column < width; column += 1) {
        const at = row * width + column;
        table[at] = Math.fround(table[at]! + rowGradients[token * width + column]!);
      }
    }
    return table;
  }

  it("is the in-order float32 sum on every run with 2 threads", async () => {
    const graph = new GraphBuilder();
    const dy = graph.input({ name: "dy", dtype: "float32", shape: ["batch", "sequence", width] });
    const indices = graph.input({ name: "ids", dtype: "int64", shape: ["batch", "sequence"] });
    const [table] = graph.apply("embeddingBackward", [dy, indices], { vocabulary });
    const compiled = await compileGraph({
      model: emitModel({ graph, outputs: { table: table! }, name: "embedding-backward" }),
      threads: 2,
    });
    const expected = sequentialSum();
    for (let run = 0; run < 8; run += 1) {
      const result = await compiled.run({
        feeds: {
          dy: { data: rowGradients, dims: [batch, sequence, width] },
          ids: { data: ids, dims: [batch, sequence] },
        },
      });
      const actual = result["table"]!.data as Float32Array;
      let mismatches = 0;
      for (let index = 0; index < expected.length; index += 1)
        if (actual[index] !== expected[index]) mismatches += 1;
      expect(mismatches).toBe(0);
    }
  });
});
