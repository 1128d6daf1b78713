/**
 * A throwaway npm registry for the publish-flow test: verdaccio (a root devDependency) on a
 * free local port with its own storage. `@posttrain/*` and `@posttrain-recipes/*` live only
 * here (anyone may publish them, nothing is proxied, so the public registry's packages of the
 * same names can never shadow the ones under test); every other package is proxied from
 * the npm registry (`uplink`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface LocalRegistry {
  /** e.g. `http://127.0.0.1:40123/` (with the trailing slash npm expects). */
  url: string;
  /** A `.npmrc` naming this registry with a fake token (npm refuses to publish without one). */
  userConfigPath: string;
  /** Environment for npm, pnpm and changesets: the registry and the `.npmrc` above. */
  environment: Record<string, string>;
  /** verdaccio's log (stdout and stderr), for failure messages. */
  log: () => string;
  stop: () => Promise<void>;
}

/** True when the npm registry answers its ping within `timeoutMilliseconds`. */
export async function npmRegistryReachable(
  params: { url?: string; timeoutMilliseconds?: number } = {},
): Promise<boolean> {
  try {
    const response = await fetch(params.url ?? "https://registry.npmjs.org/-/ping", {
      signal: AbortSignal.timeout(params.timeoutMilliseconds ?? 5000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function configuration(params: { storage: string; htpasswd: string; uplink: string }): string {
  const local = "    access: $all\n    publish: $all\n    unpublish: $all\n";
  return [
    `storage: ${JSON.stringify(params.storage)}`,
    "auth:",
    "  htpasswd:",
    `    file: ${JSON.stringify(params.htpasswd)}`,
    "    max_users: -1",
    "uplinks:",
    "  npmjs:",
    `    url: ${JSON.stringify(params.uplink)}`,
    "    timeout: 120s",
    "    max_fails: 5",
    "packages:",
    "  '@posttrain/*':",
    local,
    "  '@posttrain-recipes/*':",
    local,
    "  '**':",
    "    access: $all",
    "    proxy: npmjs",
    "max_body_size: 500mb",
    "log: { type: stdout, format: pretty, level: warn }",
    "",
  ].join("\n");
}

/** Starts verdaccio in `directory` (storage, config, `.npmrc`) and waits until it answers. */
export async function startLocalRegistry(params: {
  directory: string;
  /** Where everything else comes from (default: the npm registry). */
  uplink?: string;
  timeoutMilliseconds?: number;
}): Promise<LocalRegistry> {
  const { directory } = params;
  await mkdir(join(directory, "storage"), { recursive: true });
  const configPath = join(directory, "config.yaml");
  await writeFile(
    configPath,
    configuration({
      storage: join(directory, "storage"),
      htpasswd: join(directory, "htpasswd"),
      uplink: params.uplink ?? "https://registry.npmjs.org/",
    }),
  );
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve("verdaccio/package.json");
  const { bin } = JSON.parse(await readFile(packageJsonPath, "utf8")) as { bin: Record<string, string> };
  const binPath = join(dirname(packageJsonPath), bin["verdaccio"] ?? "bin/verdaccio");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  let output = "";
  const child: ChildProcess = spawn(
    process.execPath,
    [binPath, "--config", configPath, "--listen", `127.0.0.1:${port}`],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_NO_WARNINGS: "1" } },
  );
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + (params.timeoutMilliseconds ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}:\n${output}`);
    const answered = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(2000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`verdaccio did not answer on ${url} in time:\n${output}`);
    }
    await sleep(200);
  }
  const userConfigPath = join(directory, ".npmrc");
  const host = url.replace(/^http:/, "");
  await writeFile(userConfigPath, `registry=${url}\n${host}:_authToken=publish-flow-test-token\n`);
  return {
    url,
    userConfigPath,
    environment: {
      npm_config_registry: url,
      npm_config_userconfig: userConfigPath,
      // Keep npm and pnpm quiet and offline-friendly where it does not matter.
      npm_config_audit: "false",
      npm_config_fund: "false",
      npm_config_update_notifier: "false",
    },
    log: () => output,
    stop,
  };
}
