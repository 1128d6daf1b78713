import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { emitModel } from "./emit.js";
import { GraphBuilder } from "./graph.js";
import { compileGraph } from "./runtime.js";

const scratch: string[] = [];
afterEach(() => {
  for (const directory of scratch.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe("CompileOptions.profileFilePrefix", () => {
  it("writes ORT's per-node profile of the runs to <prefix>_<timestamp>.json on endProfiling", async () => {
    const directory = mkdtempSync(join(tmpdir(), "engine-profile-"));
    scratch.push(directory);
    const graph = new GraphBuilder();
    const a = graph.input({ name: "a", dtype: "float32", shape: [2, 3] });
    const b = graph.input({ name: "b", dtype: "float32", shape: [3, 2] });
    const compiled = await compileGraph({
      model: emitModel({ graph, outputs: { c: graph.matMul(a, b) } }),
      threads: 1,
      profileFilePrefix: join(directory, "probe"),
    });
    const feeds = {
      a: { data: Float32Array.of(1, 2, 3, 4, 5, 6), dims: [2, 3] },
      b: { data: Float32Array.of(1, 0, 0, 1, 1, 1), dims: [3, 2] },
    };
    const result = await compiled.run({ feeds });
    expect(Array.from(result["c"]!.data as Float32Array)).toEqual([4, 5, 10, 11]);
    await compiled.run({ feeds });
    compiled.endProfiling();
    const files = readdirSync(directory).filter(
      (name) => name.startsWith("probe_") && name.endsWith(".json"),
    );
    expect(files).toHaveLength(1);
    const events = JSON.parse(readFileSync(join(directory, files[0]!), "utf8")) as {
      cat: string;
      name: string;
      args?: { op_name?: string };
    }[];
    expect(events.filter((event) => event.cat === "Session" && event.name === "model_run")).toHaveLength(2);
    expect(
      events.some(
        (event) =>
          event.cat === "Node" && event.name.endsWith("_kernel_time") && event.args?.op_name === "MatMul",
      ),
    ).toBe(true);
  });
});
