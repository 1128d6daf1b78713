import { readFileSync } from "node:fs";
import { type ExpectedRow, publishProblems, type RowBand, rowBand } from "@posttrain/recipe";
import { describe, expect, it } from "vitest";
import { recipe } from "./recipe.js";

function row(after: string, task: string): ExpectedRow {
  const found = recipe.expected.find((entry) => entry.after === after && entry.task === task);
  if (found === undefined) throw new Error(`no expected row after ${after} for ${task}`);
  return found;
}

/** A row's band for one new run: the 95% prediction interval from its recorded seeds. */
function band(after: string, task: string): RowBand {
  return rowBand({ row: row(after, task), runs: 1 });
}

const packageVersion = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

// What the table shows (README.md, "Measured across seeds"): the bands come from five seeds,
// so a run on another CPU (other float rounding moves greedy answers like another seed does)
// passes when it lands where another seed would. These tests pin that shape, and that no
// ordering claim is published that the seeds do not support.
describe("micro expected table", () => {
  it("every row is a seed row with at least five seeds, recorded by this version on a named machine", () => {
    expect(recipe.expected).toHaveLength(6);
    for (const entry of recipe.expected) {
      expect(Object.keys(entry.perSeed ?? {}).length).toBeGreaterThanOrEqual(5);
      expect(entry.codeVersion).toBe(packageVersion);
      expect(entry.machines?.[0]?.cpu).toMatch(/\S/);
      expect(entry.value).toBeUndefined();
      const { band: interval, center } = rowBand({ row: entry, runs: 1 });
      expect(interval.lower).toBeLessThan(center);
      expect(interval.upper).toBeGreaterThan(center);
    }
  });

  it("after SFT the model answers: held-out gsm accuracy stays above 0.25 even at the low end of its band", () => {
    expect(band("sft", "micro_gsm").band.lower).toBeGreaterThan(0.25);
  });

  it("DPO and RLVR keep instruction following near 1", () => {
    expect(band("dpo", "micro_ifeval").center).toBeGreaterThan(0.95);
    expect(band("rlvr", "micro_ifeval").center).toBeGreaterThan(0.95);
  });

  it("the table may be published, and publishes no claim", () => {
    expect(publishProblems({ recipe })).toEqual([]);
    expect(recipe.claims).toEqual([]);
  });

  it("'RLVR beats DPO on micro_gsm' would be refused: it does not hold on every recorded seed", () => {
    const claimed = {
      ...recipe,
      claims: [
        {
          statement: "RLVR beats DPO on micro_gsm",
          task: "micro_gsm",
          metric: "accuracy",
          better: "rlvr",
          worse: "dpo",
        },
      ],
    };
    const problems = publishProblems({ recipe: claimed });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/reversed or tied on seed/);
  });
});
