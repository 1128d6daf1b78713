import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A second Hub double, written independently of `server.ts` from the behaviour of the real
 * huggingface.co as huggingface_hub and @huggingface/hub see it. Where `server.ts` is one
 * origin, this one is the Hub's CDN split, on three 127.0.0.1 ports:
 *
 * - `hubUrl`: the API (`/api/{datasets|models}/{id}/revision|tree|paths-info`) and
 *   `resolve`. A small (non-LFS) file is answered here, with `ETag` = its git blob id. An LFS
 *   file answers 302 to `lfsUrl` with `X-Linked-Etag` (the sha256, quoted) and
 *   `X-Linked-Size`; a Xet file answers 302 to `xetBridgeUrl` with `X-Xet-Hash`, a
 *   `Link: <…>; rel="xet-auth"` header and the same linked etag/size. Every resolve answer
 *   carries `X-Repo-Commit`. A missing file is 404 with `X-Error-Code: EntryNotFound`.
 * - `lfsUrl`, `xetBridgeUrl`: serve content by a signed path, with `Range` (206, or 416 with
 *   `Content-Range: bytes *\/N` when the range starts at or past the end — which every
 *   range on an empty file does).
 *
 * Tree listings are paginated (`pageSize`) with `Link: <…>; rel="next"`. Resolve requests
 * count against a rate limit (`resolvesPerWindow`): past it, 429 with
 * `RateLimit: "resolvers";r=0;t=<seconds>` and `RateLimit-Policy`, as the Hub sends them.
 * Access: `private` repos answer 401 without the token; `gated` ones 403 with
 * `X-Error-Code: GatedRepo`; `forbidden` ones 403 without a code (a token without read
 * scope); `disabled` ones 403 with `X-Error-Message: Access to this resource is disabled.`
 *
 * Faults (`faults`, consumed in order): `cut` sends `afterBytes` bytes of a content answer and
 * destroys the socket; `ignoreRange` answers a ranged request with 200 and the whole file;
 * `status` answers a resolve with that status (and `Retry-After` when given).
 */
export interface CdnHubFile {
  content: Uint8Array | string;
  /** How the Hub stores it: in git (default for files under 1 KiB), LFS, or Xet. */
  storage?: "git" | "lfs" | "xet";
}

export interface CdnHubRepo {
  type: "dataset" | "model";
  id: string;
  files: Record<string, CdnHubFile>;
  private?: boolean;
  gated?: boolean;
  forbidden?: boolean;
  disabled?: boolean;
}

export type CdnHubFault =
  | { kind: "cut"; path: string; afterBytes: number; times?: number }
  | { kind: "ignoreRange"; path: string; times?: number }
  | { kind: "status"; path: string; status: number; retryAfterSeconds?: number; times?: number };

export interface CdnHubRequest {
  origin: "hub" | "lfs" | "xet";
  method: string;
  /** Path and query as received (percent-encoded). */
  url: string;
  range: string | undefined;
  authorized: boolean;
}

export interface CdnHub {
  hubUrl: string;
  lfsUrl: string;
  xetBridgeUrl: string;
  /** The commit every repo is at (one commit per repo). */
  commitOf(id: string): string;
  requests: CdnHubRequest[];
  faults: CdnHubFault[];
  /**
   * Resolve requests allowed per window (`Infinity` by default). Past it, resolves answer 429
   * until `limitedAnswers` of them were sent; then the window is over and counting restarts.
   */
  rateLimit: {
    resolvesPerWindow: number;
    windowSeconds: number;
    resetInSeconds: number;
    limitedAnswers: number;
    /** Resolves counted in the current window; set to 0 to start a fresh window. */
    resolvesUsed: number;
  };
  close(): Promise<void>;
}

interface StoredFile {
  path: string;
  bytes: Buffer;
  storage: "git" | "lfs" | "xet";
  gitOid: string;
  sha256: string;
  xetHash: string;
}

function gitOidOf(bytes: Buffer): string {
  return createHash("sha1").update(`blob ${bytes.byteLength}\0`).update(bytes).digest("hex");
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

export async function startCdnHub(params: {
  repos: CdnHubRepo[];
  token?: string;
  pageSize?: number;
}): Promise<CdnHub> {
  const pageSize = params.pageSize ?? 2;
  const repos = new Map<string, { repo: CdnHubRepo; commit: string; files: Map<string, StoredFile> }>();
  const blobs = new Map<string, StoredFile>();
  const pathsOf = new Map<string, string[]>();
  for (const repo of params.repos) {
    const commit = createHash("sha1").update(`commit ${repo.type} ${repo.id}`).digest("hex");
    const files = new Map<string, StoredFile>();
    for (const [path, file] of Object.entries(repo.files)) {
      const bytes = Buffer.from(file.content);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const storage = file.storage ?? (bytes.byteLength < 1024 ? "git" : "lfs");
      const stored: StoredFile = {
        path,
        bytes,
        storage,
        sha256,
        // An LFS/Xet file's git blob is its pointer file.
        gitOid:
          storage === "git"
            ? gitOidOf(bytes)
            : gitOidOf(
                Buffer.from(
                  `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${bytes.byteLength}\n`,
                ),
              ),
        xetHash: createHash("sha256").update("xet").update(bytes).digest("hex"),
      };
      files.set(path, stored);
      blobs.set(sha256, stored);
      pathsOf.set(sha256, [...(pathsOf.get(sha256) ?? []), path]);
    }
    repos.set(`${repo.type}:${repo.id}`, { repo, commit, files });
  }
  const requests: CdnHubRequest[] = [];
  const faults: CdnHubFault[] = [];
  const rateLimit = {
    resolvesPerWindow: Number.POSITIVE_INFINITY,
    windowSeconds: 300,
    resetInSeconds: 60,
    limitedAnswers: 1,
    resolvesUsed: 0,
  };
  let limitedSent = 0;

  const takeFault = <K extends CdnHubFault["kind"]>(kind: K, paths: string | string[]) => {
    const accepted = typeof paths === "string" ? [paths] : paths;
    const index = faults.findIndex((fault) => fault.kind === kind && accepted.includes(fault.path));
    if (index < 0) return undefined;
    const fault = faults[index] as Extract<CdnHubFault, { kind: K }>;
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) faults.splice(index, 1);
    else fault.times = left;
    return fault;
  };

  const record = (origin: CdnHubRequest["origin"], request: IncomingMessage) =>
    requests.push({
      origin,
      method: request.method ?? "GET",
      url: request.url ?? "",
      range: request.headers.range,
      authorized: params.token !== undefined && request.headers.authorization === `Bearer ${params.token}`,
    });

  function json(
    response: ServerResponse,
    status: number,
    value: unknown,
    headers: Record<string, string> = {},
  ) {
    response.writeHead(status, { "Content-Type": "application/json", ...headers });
    response.end(JSON.stringify(value));
  }

  /** Hub-style refusal, or undefined when the request may read the repo. */
  function refuse(request: IncomingMessage, repo: CdnHubRepo, response: ServerResponse): boolean {
    const authorized =
      params.token !== undefined && request.headers.authorization === `Bearer ${params.token}`;
    if ((repo.private || repo.gated || repo.forbidden) && !authorized) {
      json(response, 401, { error: "Invalid username or password." }, { "X-Error-Code": "RepoNotFound" });
      return true;
    }
    if (repo.gated) {
      json(
        response,
        403,
        {
          error: `Access to dataset ${repo.id} is restricted. You must have access to it and be authenticated.`,
        },
        { "X-Error-Code": "GatedRepo", "X-Error-Message": "Access to this resource is restricted" },
      );
      return true;
    }
    if (repo.forbidden) {
      json(response, 403, { error: "This token does not have read access to this repository." });
      return true;
    }
    if (repo.disabled) {
      json(
        response,
        403,
        { error: "Access to this resource is disabled." },
        { "X-Error-Message": "Access to this resource is disabled." },
      );
      return true;
    }
    return false;
  }

  /** Bytes with Range, 416 past the end, and the content faults. */
  function sendContent(
    request: IncomingMessage,
    response: ServerResponse,
    file: StoredFile,
    extra: Record<string, string>,
  ) {
    const total = file.bytes.byteLength;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
    // A fault names a path; the CDN serves content, so it applies to every path with that content.
    const paths = pathsOf.get(file.sha256) ?? [file.path];
    const ignore = range !== null && takeFault("ignoreRange", paths) !== undefined;
    let body = file.bytes;
    let status = 200;
    const headers: Record<string, string> = {
      ...extra,
      "Accept-Ranges": "bytes",
      "Content-Type": "application/octet-stream",
    };
    if (range !== null && !ignore) {
      const start = Number(range[1]);
      const end = range[2] === "" ? total - 1 : Math.min(Number(range[2]), total - 1);
      if (start >= total || start > end) {
        response.writeHead(416, { ...headers, "Content-Range": `bytes */${total}` });
        response.end();
        return;
      }
      body = file.bytes.subarray(start, end + 1);
      status = 206;
      headers["Content-Range"] = `bytes ${start}-${end}/${total}`;
    }
    headers["Content-Length"] = String(body.byteLength);
    if (request.method === "HEAD") {
      response.writeHead(status, headers);
      response.end();
      return;
    }
    const cut = takeFault("cut", paths);
    response.writeHead(status, headers);
    if (cut !== undefined) {
      response.write(body.subarray(0, cut.afterBytes), () => response.socket?.destroy());
      return;
    }
    response.end(body);
  }

  const cdnHandler = (origin: "lfs" | "xet") => (request: IncomingMessage, response: ServerResponse) => {
    record(origin, request);
    // Signed URLs: /<sha256>?X-Amz-Signature=…; the CDN never needs (nor should get) the Hub token.
    const sha256 = new URL(request.url ?? "/", "http://cdn").pathname.slice(1);
    const file = blobs.get(sha256);
    if (file === undefined) {
      response.writeHead(403, { "Content-Type": "text/plain" });
      response.end("AccessDenied");
      return;
    }
    sendContent(request, response, file, { ETag: `"${file.sha256}"` });
  };

  const lfsServer = createServer(cdnHandler("lfs"));
  const xetServer = createServer(cdnHandler("xet"));
  const lfsUrl = await listen(lfsServer);
  const xetBridgeUrl = await listen(xetServer);

  const hubServer = createServer((request, response) => {
    record("hub", request);
    void handleHub(request, response).catch((error: unknown) => {
      json(response, 500, { error: String(error) });
    });
  });
  const hubUrl = await listen(hubServer);

  async function readBody(request: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).byteLength;
      if (size > 1 << 20) throw new Error("body too large");
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  function treeEntry(file: StoredFile) {
    return {
      type: "file",
      oid: file.gitOid,
      size: file.bytes.byteLength,
      path: file.path,
      ...(file.storage === "git"
        ? {}
        : {
            lfs: {
              oid: file.sha256,
              size: file.bytes.byteLength,
              pointerSize: 130,
            },
          }),
      ...(file.storage === "xet" ? { xetHash: file.xetHash } : {}),
    };
  }

  async function handleHub(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", hubUrl);
    // Segments are decoded one by one, as the Hub does: an encoded "/" stays inside its segment.
    const segments = url.pathname.split("/").slice(1).map(decodeURIComponent);
    if (segments[0] === "api") {
      const type = segments[1] === "datasets" ? "dataset" : segments[1] === "models" ? "model" : undefined;
      const entry = type === undefined ? undefined : repos.get(`${type}:${segments[2]}/${segments[3]}`);
      if (entry === undefined) {
        json(response, 404, { error: "Repository not found" }, { "X-Error-Code": "RepoNotFound" });
        return;
      }
      if (refuse(request, entry.repo, response)) return;
      const action = segments[4];
      const revision = segments[5];
      if (revision !== "main" && revision !== entry.commit) {
        json(response, 404, { error: `Invalid rev id: ${revision}` }, { "X-Error-Code": "RevisionNotFound" });
        return;
      }
      if (action === "revision") {
        json(response, 200, {
          _id: entry.commit.slice(0, 24),
          id: entry.repo.id,
          sha: entry.commit,
          private: entry.repo.private ?? false,
          gated: entry.repo.gated ? "auto" : false,
          downloads: 0,
          likes: 0,
          lastModified: "2026-01-01T00:00:00.000Z",
        });
        return;
      }
      if (action === "tree") {
        const all = [...entry.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
        const cursor = Number(url.searchParams.get("cursor") ?? "0");
        const page = all.slice(cursor, cursor + pageSize).map(treeEntry);
        const headers: Record<string, string> = {};
        if (cursor + pageSize < all.length) {
          const next = new URL(url);
          next.searchParams.set("cursor", String(cursor + pageSize));
          headers["Link"] = `<${next.href}>; rel="next"`;
        }
        json(response, 200, page, headers);
        return;
      }
      if (action === "paths-info" && request.method === "POST") {
        const body = JSON.parse(await readBody(request)) as { paths?: unknown };
        const paths = Array.isArray(body.paths) ? body.paths.map(String) : [];
        json(
          response,
          200,
          paths.flatMap((path) => {
            const file = entry.files.get(path);
            return file === undefined ? [] : [treeEntry(file)];
          }),
        );
        return;
      }
      json(response, 404, { error: "Not found" });
      return;
    }
    // /[datasets/]owner/name/resolve/<revision>/<path…>
    const type = segments[0] === "datasets" ? "dataset" : "model";
    const offset = type === "dataset" ? 1 : 0;
    const entry = repos.get(`${type}:${segments[offset]}/${segments[offset + 1]}`);
    if (entry === undefined || segments[offset + 2] !== "resolve") {
      json(response, 404, { error: "Repository not found" }, { "X-Error-Code": "RepoNotFound" });
      return;
    }
    rateLimit.resolvesUsed += 1;
    if (rateLimit.resolvesUsed > rateLimit.resolvesPerWindow) {
      limitedSent += 1;
      if (limitedSent >= rateLimit.limitedAnswers) {
        rateLimit.resolvesUsed = 0;
        limitedSent = 0;
      }
      json(
        response,
        429,
        { error: "You have been rate-limited; you can retry this action in about 1 minute." },
        {
          RateLimit: `"resolvers";r=0;t=${rateLimit.resetInSeconds}`,
          "RateLimit-Policy": `"fixed window";"resolvers";q=${rateLimit.resolvesPerWindow};w=${rateLimit.windowSeconds}`,
        },
      );
      return;
    }
    if (refuse(request, entry.repo, response)) return;
    const revision = segments[offset + 3];
    const path = segments.slice(offset + 4).join("/");
    const commitHeader = { "X-Repo-Commit": entry.commit };
    if (revision !== "main" && revision !== entry.commit) {
      json(response, 404, { error: "Revision not found" }, { "X-Error-Code": "RevisionNotFound" });
      return;
    }
    const statusFault = takeFault("status", path);
    if (statusFault !== undefined) {
      json(
        response,
        statusFault.status,
        { error: "injected" },
        {
          ...(statusFault.retryAfterSeconds === undefined
            ? {}
            : { "Retry-After": String(statusFault.retryAfterSeconds) }),
        },
      );
      return;
    }
    const file = entry.files.get(path);
    if (file === undefined) {
      json(response, 404, { error: "Entry not found" }, { ...commitHeader, "X-Error-Code": "EntryNotFound" });
      return;
    }
    if (file.storage === "git") {
      sendContent(request, response, file, { ...commitHeader, ETag: `"${file.gitOid}"` });
      return;
    }
    const linked = {
      ...commitHeader,
      ETag: `"${file.gitOid}"`,
      "X-Linked-Etag": `"${file.sha256}"`,
      "X-Linked-Size": String(file.bytes.byteLength),
    };
    if (file.storage === "xet") {
      response.writeHead(302, {
        ...linked,
        "X-Xet-Hash": file.xetHash,
        Link: `<${hubUrl}/api/${type}s/${entry.repo.id}/xet-read-token/${entry.commit}>; rel="xet-auth", <${xetBridgeUrl}/api/refresh>; rel="xet-reconstruction-info"`,
        Location: `${xetBridgeUrl}/${file.sha256}?X-Xet-Signed-Range=bytes%3D0-&Signature=abc`,
      });
      response.end();
      return;
    }
    response.writeHead(302, { ...linked, Location: `${lfsUrl}/${file.sha256}?X-Amz-Signature=abc` });
    response.end();
  }

  return {
    hubUrl,
    lfsUrl,
    xetBridgeUrl,
    commitOf: (id) => [...repos.values()].find((entry) => entry.repo.id === id)!.commit,
    requests,
    faults,
    rateLimit,
    close: async () => {
      await Promise.all(
        [hubServer, lfsServer, xetServer].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}
