import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allowedDependencies, checkLayers } from "./layers.js";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));

/** A throwaway workspace: every package of the real layout, with the given deps and sources. */
function fixture(
  packages: Record<string, { dependencies?: string[]; sources?: Record<string, string> }>,
): string {
  const root = mkdtempSync(join(tmpdir(), "posttrain-layers-"));
  for (const name of Object.keys(allowedDependencies)) {
    const spec = packages[name] ?? {};
    const directory = join(root, "packages", name);
    mkdirSync(join(directory, "src"), { recursive: true });
    const dependencies = Object.fromEntries(
      (spec.dependencies ?? []).map((dependency) => [`@posttrain/${dependency}`, "workspace:^"]),
    );
    writeFileSync(
      join(directory, "package.json"),
      JSON.stringify({ name: `@posttrain/${name}`, dependencies }),
    );
    for (const [file, text] of Object.entries(spec.sources ?? { "index.ts": "export {};\n" })) {
      writeFileSync(join(directory, "src", file), text);
    }
  }
  return root;
}

describe("layer rules", () => {
  it("hold for this repository", () => {
    expect(checkLayers({ root: repositoryRoot })).toEqual([]);
  });

  it("a clean fixture passes", () => {
    const root = fixture({
      data: {
        dependencies: ["core", "hub"],
        sources: { "index.ts": 'import { x } from "@posttrain/hub";\n' },
      },
    });
    expect(checkLayers({ root })).toEqual([]);
  });

  it("fail on a deliberate upward import", () => {
    const root = fixture({
      core: {
        sources: { "index.ts": 'import { runRecipe } from "@posttrain/recipe";\nexport { runRecipe };\n' },
      },
    });
    const violations = checkLayers({ root });
    expect(violations.map((violation) => violation.kind)).toEqual(["forbidden-import"]);
    expect(violations[0]?.message).toContain("@posttrain/core may not import @posttrain/recipe");
  });

  it("fail when verifiers depends on engine, or engine on data", () => {
    const root = fixture({
      verifiers: {
        dependencies: ["core", "engine"],
        sources: { "a.ts": 'export * from "@posttrain/engine";\n' },
      },
      engine: {
        dependencies: ["core"],
        sources: { "b.ts": 'const data = await import("@posttrain/data");\n' },
      },
    });
    const kinds = checkLayers({ root }).map((violation) => `${violation.kind}: ${violation.message}`);
    expect(kinds).toEqual([
      expect.stringMatching(/^forbidden-import: packages\/engine\/src\/b.ts imports @posttrain\/data/),
      expect.stringMatching(/^forbidden-dependency: @posttrain\/verifiers depends on @posttrain\/engine/),
      expect.stringMatching(/^forbidden-import: packages\/verifiers\/src\/a.ts imports @posttrain\/engine/),
    ]);
  });

  it("fail on sibling imports, undeclared imports and relative imports that escape a package", () => {
    const root = fixture({
      sft: {
        dependencies: ["core"],
        sources: { "x.ts": 'import "@posttrain/dpo";\nimport "@posttrain/data";\n' },
      },
      dpo: { sources: { "y.ts": 'import { a } from "../../core/src/index.js";\n' } },
    });
    expect(checkLayers({ root }).map((violation) => violation.kind)).toEqual([
      "escaping-import",
      "forbidden-import",
      "undeclared-import",
    ]);
  });

  it("fail on a dependency cycle", () => {
    const root = fixture({
      hub: { dependencies: ["core", "data"] },
      data: { dependencies: ["core", "hub"] },
    });
    const violations = checkLayers({ root });
    expect(
      violations.some((violation) => violation.kind === "cycle" && violation.message.includes("→")),
    ).toBe(true);
    expect(violations.some((violation) => violation.kind === "forbidden-dependency")).toBe(true);
  });

  it("fail on a package with no layer", () => {
    const root = fixture({});
    mkdirSync(join(root, "packages", "extra", "src"), { recursive: true });
    writeFileSync(
      join(root, "packages", "extra", "package.json"),
      JSON.stringify({ name: "@posttrain/extra" }),
    );
    expect(checkLayers({ root }).map((violation) => violation.kind)).toEqual(["unknown-package"]);
  });
});
