import { describe, expect, it } from "vitest";
import { createGitBlobHasher, gitBlobOid, lfsPointerOid, lfsPointerText } from "./git-oid.js";

describe("git object ids", () => {
  it("matches `git hash-object`", () => {
    // printf 'hello' | git hash-object --stdin ; git hash-object /dev/null
    expect(gitBlobOid(Buffer.from("hello"))).toBe("b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0");
    expect(gitBlobOid(new Uint8Array())).toBe("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  });

  it("hashes incrementally to the same id", () => {
    const hasher = createGitBlobHasher(11);
    hasher.update(Buffer.from("hello "));
    hasher.update(Buffer.from("world"));
    expect(hasher.digest()).toBe(gitBlobOid(Buffer.from("hello world")));
  });

  it("writes LFS pointers in the spec's exact form", () => {
    const sha256 = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
    const text = lfsPointerText({ sha256, size: 12345 });
    expect(text).toBe(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize 12345\n`);
    expect(lfsPointerOid({ sha256, size: 12345 })).toBe(gitBlobOid(Buffer.from(text)));
  });
});
