import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { sha256Hex } from "./canonical-json.js";
import { IntegrityError, PosttrainError } from "./errors.js";

/** Bytes to write: a whole buffer or string, or chunks produced as they are ready. */
export type FileContent = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface WriteFileAtomicParams {
  path: string;
  content: FileContent;
  /** Also write `<path>.sha256` so {@link readFileVerified} can check the content later. */
  checksum?: boolean;
}

export interface WrittenFile {
  path: string;
  sha256: string;
  size: number;
}

export const atomicTemporaryPrefix = ".tmp-";

/** The name of the temporary sibling used while writing `path` (useful to clean leftovers). */
export function isTemporaryFile(name: string): boolean {
  return basename(name).startsWith(atomicTemporaryPrefix);
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename itself is still atomic.
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file atomically: content goes to a temporary file in the same directory, is
 * fsynced, then renamed over `path` (and the directory fsynced). A reader — or a process
 * that restarts after a crash or kill — sees either the old file or the new one, never a
 * mix. Parent directories are created.
 */
export async function writeFileAtomic({
  path,
  content,
  checksum = false,
}: WriteFileAtomicParams): Promise<WrittenFile> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporary = join(
    directory,
    `${atomicTemporaryPrefix}${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}`,
  );
  const hash = createHash("sha256");
  let size = 0;
  const handle = await open(temporary, "w");
  try {
    const write = async (chunk: Uint8Array) => {
      hash.update(chunk);
      size += chunk.byteLength;
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
    };
    if (typeof content === "string") await write(Buffer.from(content, "utf8"));
    else if (content instanceof Uint8Array) await write(content);
    else for await (const chunk of content) await write(chunk);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw new PosttrainError({
      code: "atomic_write_failed",
      message: `could not write ${path}`,
      cause: error,
    });
  }
  await handle.close();
  const sha256 = hash.digest("hex");
  await rename(temporary, path);
  if (checksum) {
    await writeFileAtomic({ path: `${path}.sha256`, content: `${sha256}  ${basename(path)}\n` });
  }
  await syncDirectory(directory);
  return { path, sha256, size };
}

/** Writes `value` as pretty JSON (with a trailing newline) atomically. */
export async function writeJsonAtomic(params: {
  path: string;
  value: unknown;
  checksum?: boolean;
}): Promise<WrittenFile> {
  return writeFileAtomic({
    path: params.path,
    content: `${JSON.stringify(params.value, null, 2)}\n`,
    ...(params.checksum === undefined ? {} : { checksum: params.checksum }),
  });
}

/**
 * Reads a file written with `checksum: true` and checks it against its `.sha256` sidecar
 * (or against `expectedSha256` when given). A mismatch or a missing sidecar throws an
 * {@link IntegrityError}, so a truncated or hand-edited file is never used silently.
 */
export async function readFileVerified(params: { path: string; expectedSha256?: string }): Promise<Buffer> {
  const { path } = params;
  const content = await readFile(path);
  let expected = params.expectedSha256;
  if (expected === undefined) {
    let sidecar: string;
    try {
      sidecar = await readFile(`${path}.sha256`, "utf8");
    } catch (error) {
      throw new IntegrityError({
        code: "integrity_missing",
        message: `no checksum recorded for ${path} (expected ${path}.sha256)`,
        cause: error,
        details: { path },
      });
    }
    expected = sidecar.trim().split(/\s+/)[0] ?? "";
  }
  const actual = sha256Hex(content);
  if (actual !== expected) {
    throw new IntegrityError({
      message: `${path} is corrupt: sha256 ${actual}, expected ${expected}`,
      details: { path, expected, actual },
    });
  }
  return content;
}
