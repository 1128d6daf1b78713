import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isTemporaryFile, readFileVerified, writeFileAtomic, writeJsonAtomic } from "./atomic-file.js";
import { IntegrityError, PosttrainError } from "./errors.js";

const temporaryDirectory = () => mkdtempSync(join(tmpdir(), "posttrain-core-"));
// The child is a plain Node process (Node 20 cannot run .ts), so it loads the built module;
// turbo's `test` task depends on `build`.
const atomicModule = fileURLToPath(new URL("../dist/atomic-file.js", import.meta.url));

describe("writeFileAtomic", () => {
  it("writes strings, bytes and chunk streams and reports size and sha256", async () => {
    const directory = temporaryDirectory();
    const path = join(directory, "nested", "a.txt");
    const written = await writeFileAtomic({ path, content: "hello" });
    expect(readFileSync(path, "utf8")).toBe("hello");
    expect(written).toEqual({
      path,
      size: 5,
      sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    });
    async function* chunks() {
      yield new Uint8Array([104, 105]);
      yield new Uint8Array([33]);
    }
    await writeFileAtomic({ path, content: chunks() });
    expect(readFileSync(path, "utf8")).toBe("hi!");
    expect(readdirSync(join(directory, "nested")).filter(isTemporaryFile)).toEqual([]);
  });

  it("leaves the old file intact and no temp file when the content source fails", async () => {
    const directory = temporaryDirectory();
    const path = join(directory, "state.json");
    await writeJsonAtomic({ path, value: { step: 1 } });
    async function* failing() {
      yield new Uint8Array([1, 2, 3]);
      throw new Error("disk on fire");
    }
    await expect(writeFileAtomic({ path, content: failing() })).rejects.toSatisfy((error) =>
      PosttrainError.hasCode(error, "atomic_write_failed"),
    );
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ step: 1 });
    expect(readdirSync(directory)).toEqual(["state.json"]);
  });

  it("keeps the old file when the writing process is killed half-way", async () => {
    const directory = temporaryDirectory();
    const path = join(directory, "checkpoint.bin");
    writeFileSync(path, "old checkpoint");
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(atomicModule)};
      async function* slow() {
        for (let i = 0; ; i++) {
          yield new Uint8Array(1 << 16).fill(i % 255);
          if (i === 4) process.stdout.write("writing\\n");
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      await writeFileAtomic({ path: ${JSON.stringify(path)}, content: slow() });
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    expect(existsSync(atomicModule), "build @posttrain/core first (pnpm build)").toBe(true);
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (data: Buffer) => {
        if (data.toString().includes("writing")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect(readFileSync(path, "utf8")).toBe("old checkpoint");
    const leftovers = readdirSync(directory).filter(isTemporaryFile);
    expect(leftovers.length).toBe(1); // the partial temp file, never renamed over the target
  });
});

describe("readFileVerified", () => {
  it("returns content whose checksum matches", async () => {
    const path = join(temporaryDirectory(), "cache.arrow");
    await writeFileAtomic({ path, content: "rows", checksum: true });
    expect((await readFileVerified({ path })).toString()).toBe("rows");
  });

  it("detects a truncated or edited file and a missing checksum", async () => {
    const directory = temporaryDirectory();
    const path = join(directory, "cache.arrow");
    await writeFileAtomic({ path, content: "0123456789", checksum: true });
    writeFileSync(path, "01234");
    await expect(readFileVerified({ path })).rejects.toBeInstanceOf(IntegrityError);
    await expect(readFileVerified({ path })).rejects.toThrow("is corrupt");
    const bare = join(directory, "bare.bin");
    writeFileSync(bare, "x");
    await expect(readFileVerified({ path: bare })).rejects.toSatisfy((error) =>
      PosttrainError.hasCode(error, "integrity_missing"),
    );
    await expect(
      readFileVerified({
        path: bare,
        expectedSha256: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
      }),
    ).resolves.toBeDefined();
  });
});
