/**
 * A private copy of this checkout for the publish-flow test (which bumps versions, rewrites
 * CHANGELOGs and locks, and publishes — none of which may touch the real checkout): every
 * file git knows of or would add (`git ls-files --cached --others --exclude-standard`, so
 * uncommitted work is included and ignored output is not), symbolic links kept as links and
 * modification times kept, plus the built `dist/` folders of the workspace packages. With the
 * times kept, `tsc -b` in the copy finds the copied builds up to date and rebuilds only what
 * the checkout itself had not built yet.
 */
import { spawnSync } from "node:child_process";
import { copyFile, cp, lstat, mkdir, readdir, readlink, symlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";

/** The workspace package folders (pnpm-workspace.yaml: packages/*, recipes/*, bench). */
async function packageDirectories(root: string): Promise<string[]> {
  const directories = ["bench"];
  for (const parent of ["packages", "recipes"]) {
    const entries = await readdir(join(root, parent), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) directories.push(join(parent, entry.name));
  }
  return directories;
}

/** Runs a command and throws with its output when it fails. */
export function runChecked(params: {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMilliseconds?: number;
}): string {
  const result = spawnSync(params.command, params.args, {
    cwd: params.cwd,
    env: params.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: params.timeoutMilliseconds ?? 300_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `${params.command} ${params.args.join(" ")} (in ${params.cwd}) failed with ${result.status ?? result.signal ?? result.error?.message}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** Copies the checkout at `from` into the empty folder `to`; returns how many files it copied. */
export async function copyWorkspace(params: { from: string; to: string }): Promise<{ files: number }> {
  const listed = runChecked({
    command: "git",
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: params.from,
  })
    .split("\0")
    .filter((path) => path !== "");
  let files = 0;
  for (const path of new Set(listed)) {
    const source = join(params.from, path);
    const target = join(params.to, path);
    const stats = await lstat(source).catch(() => null);
    if (stats === null) continue; // deleted in the working tree, still in the index
    await mkdir(dirname(target), { recursive: true });
    if (stats.isSymbolicLink()) {
      await symlink(await readlink(source), target);
    } else if (stats.isFile()) {
      await copyFile(source, target);
      await utimes(target, stats.atime, stats.mtime);
    } else {
      continue;
    }
    files += 1;
  }
  for (const directory of await packageDirectories(params.from)) {
    const dist = join(params.from, directory, "dist");
    if ((await lstat(dist).catch(() => null))?.isDirectory() !== true) continue;
    await cp(dist, join(params.to, directory, "dist"), { recursive: true, preserveTimestamps: true });
  }
  return { files };
}
