import { createHash } from "node:crypto";

/**
 * The git blob id of `content`: sha1 of `"blob <size>\0"` followed by the bytes. The Hub
 * reports it as `oid` for every file; for files stored without LFS it is the only hash the
 * Hub gives, so non-LFS downloads are verified against it.
 */
export function gitBlobOid(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.byteLength}\0`).update(content).digest("hex");
}

/** An incremental git blob hasher, for content streamed in chunks of a known total size. */
export function createGitBlobHasher(size: number): { update(chunk: Uint8Array): void; digest(): string } {
  const hash = createHash("sha1").update(`blob ${size}\0`);
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    digest: () => hash.digest("hex"),
  };
}

/**
 * The text of the Git LFS pointer file git stores for an LFS file. Its git blob id is the
 * `oid` the Hub reports for LFS files, so the id can be recomputed offline from the sha256
 * and size alone.
 */
export function lfsPointerText(params: { sha256: string; size: number }): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${params.sha256}\nsize ${params.size}\n`;
}

/** The git blob id of the LFS pointer of a file with this sha256 and size. */
export function lfsPointerOid(params: { sha256: string; size: number }): string {
  return gitBlobOid(Buffer.from(lfsPointerText(params), "utf8"));
}
