import { describe, expect, it } from "vitest";
import { resumeCommand, resumeCommandOf, shellQuote } from "./resume-command.js";

describe("resumeCommand", () => {
  it("names the recipe, variant, run id, seed options and a runs folder other than the default", () => {
    expect(
      resumeCommand({
        reference: "recipes/micro",
        variant: null,
        runId: "20260101-000000Z",
        runsDirectory: "runs",
      }),
    ).toBe("posttrain run recipes/micro --resume 20260101-000000Z");
    expect(
      resumeCommand({
        reference: "recipes/micro",
        variant: "smoke",
        runId: "20260101-000000Z-seeds",
        runsDirectory: "/tmp/runs",
        seeds: "1,2,3",
      }),
    ).toBe(
      "posttrain run recipes/micro --smoke --resume 20260101-000000Z-seeds --seeds 1,2,3 --runs /tmp/runs",
    );
    expect(
      resumeCommand({ reference: "r", variant: "long", runId: "x-seed-4", runsDirectory: "runs", seed: 4 }),
    ).toBe("posttrain run r --variant long --resume x-seed-4 --seed 4");
  });

  it("quotes what a POSIX shell would split or expand", () => {
    expect(shellQuote("my runs")).toBe("'my runs'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("$HOME")).toBe("'$HOME'");
    expect(
      resumeCommand({ reference: "./my recipe", variant: null, runId: "a", runsDirectory: "/tmp/my runs" }),
    ).toBe("posttrain run './my recipe' --resume a --runs '/tmp/my runs'");
  });
});

describe("resumeCommandOf", () => {
  const recipe = {
    name: "fixture",
    version: "1.2.3",
    variant: "smoke",
    packageName: "@posttrain-recipes/fixture",
  };

  it("is the same command from a run's summary: runs folder two levels up, --seed when overridden", () => {
    expect(
      resumeCommandOf({ recipe, runDirectory: "/data/my runs/fixture-1.2.3-smoke/20260101-000000Z" }),
    ).toBe(
      "posttrain run @posttrain-recipes/fixture --smoke --resume 20260101-000000Z --runs '/data/my runs'",
    );
    expect(
      resumeCommandOf({
        recipe: { ...recipe, variant: null, packageName: null },
        runDirectory: "/r/fixture-1.2.3/20260101-000000Z-seed-9",
        seed: { root: 9, overridden: true },
      }),
    ).toBe("posttrain run fixture --resume 20260101-000000Z-seed-9 --seed 9 --runs /r");
  });
});
