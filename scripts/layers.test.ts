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

describe("file-level import cycles", () => {
  it("fail on a cycle between files of one package, naming the files in import order", () => {
    const root = fixture({
      engine: {
        dependencies: ["core"],
        sources: {
          "graph.ts": 'import { operations } from "./ops.js";\nexport const builder = operations;\n',
          "ops.ts": 'import { shapeError } from "./checks.js";\nexport const operations = { shapeError };\n',
          "checks.ts": 'import { builder } from "./graph.js";\nexport const shapeError = builder;\n',
        },
      },
    });
    const violations = checkLayers({ root });
    expect(violations.map((violation) => violation.kind)).toEqual(["file-cycle"]);
    expect(violations[0]?.message).toBe(
      "file import cycle in @posttrain/engine: packages/engine/src/checks.ts → packages/engine/src/graph.ts → packages/engine/src/ops.ts → packages/engine/src/checks.ts",
    );
  });

  it("fail on a two-file cycle through a re-export", () => {
    const root = fixture({
      cli: {
        sources: {
          "program.ts":
            'import { commands } from "./commands.js";\nexport class UsageError extends Error {}\n',
          "commands.ts":
            'export { UsageError as Failure } from "./program.js";\nexport const commands = [];\n',
        },
      },
    });
    expect(checkLayers({ root }).map((violation) => violation.kind)).toEqual(["file-cycle"]);
  });

  it("pass when one side of the loop is type-only (erased by the compiler) or a dynamic import", () => {
    const root = fixture({
      engine: {
        sources: {
          "graph.ts": 'import { operations } from "./ops.js";\nexport class GraphBuilder {}\n',
          "ops.ts": 'import type { GraphBuilder } from "./graph.js";\nexport const operations = {};\n',
          "emit.ts": 'import { operations } from "./ops.js";\nexport const emit = operations;\n',
          "late.ts": 'export const load = () => import("./emit.js");\n',
        },
      },
    });
    expect(checkLayers({ root })).toEqual([]);
  });

  it("count `import { type A }` as a run-time edge (verbatimModuleSyntax keeps the import)", () => {
    const root = fixture({
      engine: {
        sources: {
          "a.ts": 'import { type B } from "./b.js";\nexport type A = B;\n',
          "b.ts": 'import { type A } from "./a.js";\nexport type B = A;\n',
        },
      },
    });
    expect(checkLayers({ root }).map((violation) => violation.kind)).toEqual(["file-cycle"]);
  });
});
