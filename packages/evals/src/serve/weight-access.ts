/**
 * Who may swap the served weights, and from where. The weight routes (`/update_weights_from_disk`,
 * `/collective_rpc`, `/reset_prefix_cache`) change what every client of the server gets, so:
 *
 * - they are **off** unless the server is started with `enabled: true`
 *   (`posttrain serve --enable-weight-updates`): 403 `serve_weight_updates_disabled`;
 * - when on, every call must carry `Authorization: Bearer <token>`; the token is compared in
 *   constant time (sha256 of both sides, then `crypto.timingSafeEqual`, so neither the
 *   content nor the length leaks through timing): 401 `serve_unauthorized` with
 *   `WWW-Authenticate: Bearer` otherwise;
 * - a model folder must resolve (realpath: symlinks and `..` followed) inside the allowed root,
 *   and so must every file the loader reads from it (`config.json`, `generation_config.json`,
 *   `model.safetensors`, `model.safetensors.index.json` and each shard the index names):
 *   403 `serve_model_path_forbidden` otherwise. A folder that does not exist is SGLang's
 *   `success: false` (400), as before.
 *
 * Not covered (see the README's threat model): someone who can write inside the allowed root
 * can still replace files between this check and the load; the token travels in clear text
 * unless the server sits behind TLS.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { lstat, readFile, realpath, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { isAbsolute, join, relative, sep } from "node:path";
import { ServeError, ServeRequestError } from "./errors.js";

/** Shortest token accepted (a guessable token is no protection). */
export const minimumWeightUpdateTokenLength = 16;
/** The environment variable `posttrain serve` reads the token from (the flag wins). */
export const weightUpdateTokenVariable = "POSTTRAIN_WEIGHT_UPDATE_TOKEN";

export type WeightUpdateAccessOptions =
  | { enabled: false }
  | {
      enabled: true;
      /** The bearer token callers must send (at least {@link minimumWeightUpdateTokenLength} characters). */
      token: string;
      /** Folder every model path must resolve inside. */
      allowedRoot: string;
    };

export interface WeightUpdateAccess {
  readonly enabled: boolean;
  /** The allowed root, resolved (null when disabled). */
  readonly allowedRoot: string | null;
  /** Throws 403 when disabled, 401 without the right bearer token. */
  authorize(request: IncomingMessage): void;
  /**
   * The real path of `directory` if it and the files the loader reads from it lie inside the
   * allowed root; `null` if it does not exist; throws 403 if anything escapes.
   */
  resolveModelDirectory(params: { directory: string; param: string }): Promise<string | null>;
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Whether `path` equals `root` or lies under it (both real, absolute paths). */
const inside = (root: string, path: string) => {
  const relation = relative(root, path);
  return relation === "" || (!relation.startsWith(`..${sep}`) && relation !== ".." && !isAbsolute(relation));
};

const exists = async (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

export async function createWeightUpdateAccess(
  options: WeightUpdateAccessOptions,
): Promise<WeightUpdateAccess> {
  if (!options.enabled)
    return {
      enabled: false,
      allowedRoot: null,
      authorize() {
        throw new ServeRequestError({
          code: "serve_weight_updates_disabled",
          status: 403,
          type: "permission_error",
          message:
            "weight updates are disabled on this server; start it with `posttrain serve --enable-weight-updates` (and a token)",
        });
      },
      async resolveModelDirectory() {
        return null;
      },
    };
  if (options.token.length < minimumWeightUpdateTokenLength)
    throw new ServeError({
      code: "serve_weight_update_token_invalid",
      message: `the weight-update token must have at least ${minimumWeightUpdateTokenLength} characters (got ${options.token.length})`,
    });
  let allowedRoot: string;
  try {
    allowedRoot = await realpath(options.allowedRoot);
    if (!(await stat(allowedRoot)).isDirectory()) throw new Error("not a folder");
  } catch (error) {
    throw new ServeError({
      code: "serve_weight_update_root_invalid",
      message: `the weight-updates root ${options.allowedRoot} is not a readable folder: ${(error as Error).message}`,
      cause: error,
    });
  }
  const expected = digest(options.token);
  const forbidden = (message: string, param: string) =>
    new ServeRequestError({
      code: "serve_model_path_forbidden",
      status: 403,
      type: "permission_error",
      param,
      message,
    });
  const checkFile = async (path: string, param: string) => {
    if (!(await exists(path))) return;
    const real = await realpath(path).catch(() => null);
    if (real === null || !inside(allowedRoot, real))
      throw forbidden(`${path} resolves outside the weight-updates root ${allowedRoot}`, param);
  };
  return {
    enabled: true,
    allowedRoot,
    authorize(request) {
      const header = request.headers.authorization ?? "";
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (match === null || !timingSafeEqual(digest(match[1]!), expected))
        throw new ServeRequestError({
          code: "serve_unauthorized",
          status: 401,
          type: "authentication_error",
          message:
            match === null
              ? "weight updates need an Authorization: Bearer <token> header"
              : "the bearer token is not this server's weight-update token",
          details: { authenticate: "Bearer" },
        });
    },
    async resolveModelDirectory({ directory, param }) {
      if (directory.includes("\u0000")) throw forbidden("the model path contains a NUL character", param);
      let real: string;
      try {
        real = await realpath(directory);
      } catch {
        return null;
      }
      if (!inside(allowedRoot, real))
        throw forbidden(
          `${directory} resolves to ${real}, outside the weight-updates root ${allowedRoot}`,
          param,
        );
      for (const name of [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "model.safetensors.index.json",
      ])
        await checkFile(join(real, name), param);
      const indexPath = join(real, "model.safetensors.index.json");
      if (await exists(indexPath)) {
        const size = (await stat(indexPath)).size;
        if (size > 64 * 1024 * 1024) throw forbidden(`${indexPath} is larger than 64 MiB`, param);
        let shards: string[] = [];
        try {
          const index = JSON.parse(await readFile(indexPath, "utf8")) as {
            weight_map?: Record<string, unknown>;
          };
          shards = [...new Set(Object.values(index.weight_map ?? {}))].filter(
            (value): value is string => typeof value === "string",
          );
        } catch {
          // The loader reports an unreadable index itself.
        }
        for (const shard of shards) {
          if (isAbsolute(shard) || !inside(real, join(real, shard)))
            throw forbidden(`the shard ${shard} named by ${indexPath} lies outside the model folder`, param);
          await checkFile(join(real, shard), param);
        }
      }
      return real;
    },
  };
}
