import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sha256Hex } from "@posttrain/core";
import type { RepoType } from "../repository.js";
import {
  buildRepo,
  type FixtureRepo,
  findCommit,
  lfsSizeThreshold,
  makeCommit,
  pointerOf,
  type StoredCommit,
  type StoredFile,
  type StoredRepo,
  storeFile,
  toBuffer,
} from "./fixture-store.js";

/**
 * A fault the server injects into its next answers:
 * - `cut`: the next `times` (default 1) full downloads of `path` send half the bytes, then
 *   the connection is destroyed (the announced Content-Length is the full size);
 * - `unavailable`: the next `times` (default 1) requests — only those about `path` when
 *   given — are answered `status` (default 503) with no body;
 * - `corrupt`: downloads of `path` serve bytes with one byte flipped (same size), the next
 *   `times` times (default: for ever).
 */
export type TestHubFault =
  | { kind: "cut"; path: string; times?: number }
  | { kind: "unavailable"; path?: string; times?: number; status?: number }
  | { kind: "corrupt"; path: string; times?: number };

export interface StartTestHubParams {
  repos: FixtureRepo[];
  /** The one valid token (must start with `hf_`, as @huggingface/hub checks). Private repos need it. */
  token?: string;
  faults?: TestHubFault[];
  /** Entries per page of the tree listing (the Hub uses 1000); smaller values exercise `Link` pagination. */
  treePageSize?: number;
}

export interface TestHubRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  /** The `Range` header, when sent (e.g. `bytes=0-0` for the size probe @huggingface/hub makes). */
  range?: string;
  /** True when the request carried an `Authorization` header. */
  authorized: boolean;
}

export interface TestHub {
  /** `http://127.0.0.1:<port>`: use as `HF_ENDPOINT` / `hubUrl`. */
  url: string;
  /** The commit SHAs of a repo, oldest first (uploads append). */
  commitShas(repoName: string, type?: RepoType): string[];
  /** The SHA a branch or ref points at now. */
  branchSha(repoName: string, branch?: string, type?: RepoType): string | undefined;
  /** Adds a commit (the full file set) on `branch` (default `main`), moving it; returns the SHA. */
  addCommit(params: {
    repo: string;
    type?: RepoType;
    files: Record<string, Uint8Array | string>;
    message?: string;
    branch?: string;
  }): string;
  /** The files of a repo at a revision, as stored (for checking uploads). */
  filesAt(repoName: string, revision: string, type?: RepoType): Map<string, Buffer> | undefined;
  setFault(fault: TestHubFault): void;
  clearFaults(): void;
  /** Every request received, in order. */
  requests: TestHubRequest[];
  close(): Promise<void>;
}

interface ActiveFault {
  fault: TestHubFault;
  remaining: number;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

const repoActions = new Set(["revision", "tree", "paths-info", "preupload", "commit"]);

/**
 * Starts a Hub-compatible HTTP server on 127.0.0.1 (random port) serving `repos`, with the
 * routes @huggingface/hub calls (checked against its 2.17 source):
 * - `GET /api/{datasets|models}/{name}/revision/{rev}`: repo info with `sha`, `siblings`
 * - `GET /api/{type}s/{name}/tree/{rev}[/{path}]?recursive=&expand=&cursor=`: listing with
 *   `Link: <...>; rel="next"` pagination; `{rev}` is one URL-encoded segment, so an
 *   unencoded `refs/convert/parquet` fails as it does on the Hub
 * - `POST /api/{type}s/{name}/paths-info/{rev}`: entries for the given paths
 * - `GET|HEAD /[datasets/]{name}/resolve/{rev}/{path}`: non-LFS content (200, `ETag` = git
 *   oid), LFS files answered `302` to `/__lfs/objects/{sha256}` like the Hub's CDN redirect,
 *   with `X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size`; `Range: bytes=a-b` → 206
 * - `GET /[datasets/]{name}/raw/{rev}/{path}`: git content (LFS pointer for LFS files)
 * - `POST /api/{type}s/{name}/preupload/{branch}`, `POST /[datasets/]{name}.git/info/lfs/objects/batch`
 *   (basic transfer), `PUT /__lfs/upload/{sha256}`, `POST /api/{type}s/{name}/commit/{branch}` (NDJSON)
 * Errors carry `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`,
 * `GatedRepo`) and a JSON `{ error }` body, as the Hub's do.
 */
export async function startTestHub(params: StartTestHubParams): Promise<TestHub> {
  const repos = new Map<string, StoredRepo>();
  const key = (type: RepoType, name: string) => `${type}:${name}`;
  for (const fixture of params.repos) repos.set(key(fixture.type, fixture.name), buildRepo(fixture));
  const lfsObjects = new Map<string, Buffer>();
  for (const repo of repos.values()) {
    for (const commit of repo.commits) {
      for (const file of commit.files.values()) if (file.lfs) lfsObjects.set(file.sha256, file.content);
    }
  }
  const faults: ActiveFault[] = [];
  const requests: TestHubRequest[] = [];
  const pageSize = Math.max(1, params.treePageSize ?? 1000);
  let baseUrl = "";

  const addFault = (fault: TestHubFault) => {
    const fallback = fault.kind === "corrupt" ? Number.POSITIVE_INFINITY : 1;
    faults.push({ fault, remaining: fault.times ?? fallback });
  };
  for (const fault of params.faults ?? []) addFault(fault);

  /** Takes one use of the first matching fault of `kind`, if any. */
  function takeFault(kind: TestHubFault["kind"], path: string | undefined): TestHubFault | undefined {
    const active = faults.find(
      (entry) =>
        entry.fault.kind === kind &&
        entry.remaining > 0 &&
        (entry.fault.path === undefined || entry.fault.path === path),
    );
    if (active === undefined) return undefined;
    active.remaining -= 1;
    return active.fault;
  }

  function findRepo(type: RepoType, name: string): StoredRepo | undefined {
    return repos.get(key(type, name));
  }

  function bearer(request: IncomingMessage): string | undefined {
    const header = request.headers.authorization;
    return header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
  }

  /** 401 for a wrong token; then the Hub's visibility rules for `repo`. */
  function authorize(request: IncomingMessage, type: RepoType, name: string): StoredRepo {
    const token = bearer(request);
    if (token !== undefined && token !== params.token) {
      throw new HttpFailure(401, "Invalid credentials in Authorization header");
    }
    const authenticated = token !== undefined;
    const repo = findRepo(type, name);
    const label = `${type === "dataset" ? "Dataset" : "Model"} ${name}`;
    if (repo === undefined || (repo.private && !authenticated)) {
      // The Hub does not reveal whether a private repo exists: 401 without a token.
      throw new HttpFailure(authenticated ? 404 : 401, `Repository Not Found: ${label}`, "RepoNotFound");
    }
    if (repo.gated) {
      throw new HttpFailure(
        authenticated ? 403 : 401,
        `Access to ${label} is restricted. You must have access to it and be authenticated to access it.`,
        "GatedRepo",
      );
    }
    return repo;
  }

  function commitOf(repo: StoredRepo, revision: string): StoredCommit {
    const commit = findCommit(repo, revision);
    if (commit === undefined) throw new HttpFailure(404, `Invalid rev id: ${revision}`, "RevisionNotFound");
    return commit;
  }

  function treeEntries(
    commit: StoredCommit,
    prefix: string,
    recursive: boolean,
  ): Array<Record<string, unknown>> {
    const base = prefix === "" ? "" : `${prefix}/`;
    const directories = new Set<string>();
    const entries: Array<Record<string, unknown>> = [];
    for (const [path, file] of [...commit.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!path.startsWith(base)) continue;
      const rest = path.slice(base.length);
      const parts = rest.split("/");
      for (let depth = 1; depth < parts.length; depth += 1) {
        if (!recursive && depth > 1) break;
        directories.add(base + parts.slice(0, depth).join("/"));
      }
      if (!recursive && parts.length > 1) continue;
      entries.push(fileEntry(path, file));
    }
    const folderEntries = [...directories].map((path) => ({
      type: "directory",
      oid: sha256Hex(path).slice(0, 40),
      size: 0,
      path,
    }));
    return [...folderEntries, ...entries].sort((a, b) => (String(a["path"]) < String(b["path"]) ? -1 : 1));
  }

  function fileEntry(path: string, file: StoredFile): Record<string, unknown> {
    return {
      type: "file",
      oid: file.gitOid,
      size: file.size,
      path,
      ...(file.lfs
        ? { lfs: { oid: file.sha256, size: file.size, pointerSize: pointerOf(file).byteLength } }
        : {}),
    };
  }

  function sendJson(
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      ...headers,
    });
    response.end(text);
  }

  /** Serves bytes with Range support and the download faults (cut, corrupt). */
  function sendContent(params: {
    request: IncomingMessage;
    response: ServerResponse;
    content: Buffer;
    headers: Record<string, string>;
    faultPath: string;
  }) {
    const { request, response, headers, faultPath } = params;
    let content = params.content;
    const total = content.byteLength;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
    const start = range === null ? 0 : Number(range[1]);
    const end = range === null || range[2] === "" ? total - 1 : Math.min(Number(range[2]), total - 1);
    const isProbe = range !== null && end - start < 1;
    if (!isProbe && takeFault("corrupt", faultPath) !== undefined && total > 0) {
      content = Buffer.from(content);
      const middle = Math.floor(total / 2);
      content[middle] = content[middle]! ^ 0xff;
    }
    if (range !== null && (start >= total || start > end)) {
      response.writeHead(416, { "Content-Range": `bytes */${total}` });
      response.end();
      return;
    }
    const body = content.subarray(start, end + 1);
    const common = {
      ...headers,
      "Accept-Ranges": "bytes",
      "Content-Type": "application/octet-stream",
      "Content-Length": String(body.byteLength),
    };
    if (range !== null)
      response.writeHead(206, { ...common, "Content-Range": `bytes ${start}-${end}/${total}` });
    else response.writeHead(200, common);
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    if (!isProbe && takeFault("cut", faultPath) !== undefined) {
      response.flushHeaders();
      response.write(body.subarray(0, Math.floor(body.byteLength / 2)), () => {
        response.socket?.destroy();
      });
      return;
    }
    response.end(body);
  }

  async function readBody(request: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  function requireWriteAccess(request: IncomingMessage, type: RepoType, name: string): StoredRepo {
    if (params.token !== undefined && bearer(request) === undefined) {
      throw new HttpFailure(401, "You must be authenticated to write to a repo", "RepoNotFound");
    }
    return authorize(request, type, name);
  }

  /** Routes under `/api/{datasets|models}/`. */
  async function handleApi(
    request: IncomingMessage,
    response: ServerResponse,
    segments: string[],
    query: URLSearchParams,
  ) {
    const plural = segments[1];
    const type: RepoType | undefined =
      plural === "datasets" ? "dataset" : plural === "models" ? "model" : undefined;
    if (type === undefined) throw new HttpFailure(404, `unknown API route`);
    const nameLength = repoActions.has(segments[3] ?? "") ? 1 : 2;
    const name = segments.slice(2, 2 + nameLength).join("/");
    const action = segments[2 + nameLength];
    const revision = segments[3 + nameLength];
    const rest = segments.slice(4 + nameLength).join("/");
    if (revision === undefined) throw new HttpFailure(404, `missing revision`);
    switch (`${request.method} ${action}`) {
      case "GET revision": {
        const repo = authorize(request, type, name);
        const commit = commitOf(repo, revision);
        sendJson(response, 200, {
          _id: sha256Hex(`${type}:${name}`).slice(0, 24),
          id: name,
          author: name.split("/")[0],
          sha: commit.sha,
          private: repo.private,
          gated: repo.gated ? "auto" : false,
          disabled: false,
          downloads: 0,
          likes: 0,
          tags: [],
          lastModified: commit.date,
          createdAt: repo.commits[0]?.date ?? commit.date,
          siblings: [...commit.files.keys()].map((path) => ({ rfilename: path })),
        });
        return;
      }
      case "GET tree": {
        const repo = authorize(request, type, name);
        const commit = commitOf(repo, revision);
        const entries = treeEntries(commit, rest, query.get("recursive") === "true");
        if (rest !== "" && entries.length === 0) {
          throw new HttpFailure(404, `Entry not found: ${rest}`, "EntryNotFound");
        }
        const offset = Number(query.get("cursor") ?? "0");
        const page = entries.slice(offset, offset + pageSize);
        const headers: Record<string, string> = {};
        if (offset + pageSize < entries.length) {
          const next = new URL(request.url ?? "/", baseUrl);
          next.searchParams.set("cursor", String(offset + pageSize));
          headers["Link"] = `<${next.toString()}>; rel="next"`;
        }
        sendJson(response, 200, page, headers);
        return;
      }
      case "POST paths-info": {
        const repo = authorize(request, type, name);
        const commit = commitOf(repo, revision);
        const body = JSON.parse((await readBody(request)).toString("utf8")) as { paths?: unknown };
        const paths = Array.isArray(body.paths) ? body.paths.map(String) : [];
        const entries: unknown[] = [];
        for (const path of paths) {
          const file = commit.files.get(path);
          if (file !== undefined) {
            entries.push({
              ...fileEntry(path, file),
              lastCommit: { id: commit.sha, title: commit.message, date: commit.date },
              securityFileStatus: { status: "safe" },
            });
          } else if ([...commit.files.keys()].some((candidate) => candidate.startsWith(`${path}/`))) {
            entries.push({ type: "directory", oid: sha256Hex(path).slice(0, 40), size: 0, path });
          }
        }
        sendJson(response, 200, entries);
        return;
      }
      case "POST preupload": {
        const repo = requireWriteAccess(request, type, name);
        commitOf(repo, revision);
        const body = JSON.parse((await readBody(request)).toString("utf8")) as {
          files?: Array<{ path: string; size: number }>;
        };
        sendJson(response, 200, {
          files: (body.files ?? []).map((file) => ({
            path: file.path,
            uploadMode: repo.isLfsPath(file.path) || file.size >= lfsSizeThreshold ? "lfs" : "regular",
            shouldIgnore: false,
          })),
        });
        return;
      }
      case "POST commit": {
        const repo = requireWriteAccess(request, type, name);
        const head = commitOf(repo, revision);
        const lines = (await readBody(request))
          .toString("utf8")
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => JSON.parse(line) as { key: string; value: Record<string, unknown> });
        const files = new Map(head.files);
        let message = "";
        for (const line of lines) {
          const value = line.value;
          const path = String(value["path"] ?? "");
          if (line.key === "header") {
            message = String(value["summary"] ?? "");
            const parent = value["parentCommit"];
            if (typeof parent === "string" && parent !== head.sha) {
              throw new HttpFailure(412, `A commit has happened since. Please refresh and try again.`);
            }
          } else if (line.key === "file") {
            const content = Buffer.from(
              String(value["content"] ?? ""),
              value["encoding"] === "base64" ? "base64" : "utf8",
            );
            files.set(path, storeFile({ content, lfs: false }));
          } else if (line.key === "lfsFile") {
            const content = lfsObjects.get(String(value["oid"]));
            if (content === undefined)
              throw new HttpFailure(422, `LFS object ${String(value["oid"])} was not uploaded`);
            files.set(path, storeFile({ content, lfs: true }));
          } else if (line.key === "deletedFile") {
            files.delete(path);
          } else {
            throw new HttpFailure(400, `unsupported commit operation ${line.key}`);
          }
        }
        const commit = makeCommit({ repo, files, message, parent: head.sha });
        repo.commits.push(commit);
        const branch = revision === "HEAD" ? "main" : revision;
        if (repo.refs.has(branch)) repo.refs.set(branch, commit.sha);
        const prefix = type === "dataset" ? "datasets/" : "";
        sendJson(response, 200, {
          success: true,
          commitOid: commit.sha,
          commitUrl: `${baseUrl}/${prefix}${name}/commit/${commit.sha}`,
          hookOutput: "",
        });
        return;
      }
      default:
        throw new HttpFailure(404, `unknown API route ${request.method} ${action ?? ""}`);
    }
  }

  /** `/[datasets/]{name}/{resolve|raw}/{rev}/{path}` and `/[datasets/]{name}.git/info/lfs/objects/batch`. */
  async function handleRepoRoute(request: IncomingMessage, response: ServerResponse, segments: string[]) {
    const type: RepoType = segments[0] === "datasets" ? "dataset" : "model";
    const parts = type === "dataset" ? segments.slice(1) : segments;
    const gitIndex = parts.findIndex((part) => part.endsWith(".git"));
    if (gitIndex !== -1 && parts.slice(gitIndex + 1).join("/") === "info/lfs/objects/batch") {
      const name = [...parts.slice(0, gitIndex), parts[gitIndex]!.slice(0, -".git".length)].join("/");
      requireWriteAccess(request, type, name);
      const body = JSON.parse((await readBody(request)).toString("utf8")) as {
        objects?: Array<{ oid: string; size: number }>;
      };
      sendJson(
        response,
        200,
        {
          transfer: "basic",
          objects: (body.objects ?? []).map((object) => ({
            oid: object.oid,
            size: object.size,
            authenticated: true,
            ...(lfsObjects.has(object.oid)
              ? {}
              : { actions: { upload: { href: `${baseUrl}/__lfs/upload/${object.oid}`, expires_in: 3600 } } }),
          })),
        },
        { "Content-Type": "application/vnd.git-lfs+json" },
      );
      return;
    }
    const actionIndex = parts.findIndex(
      (part, index) => index >= 1 && index <= 2 && (part === "resolve" || part === "raw"),
    );
    if (actionIndex === -1 || !["GET", "HEAD"].includes(request.method ?? "")) {
      throw new HttpFailure(404, "unknown route");
    }
    const name = parts.slice(0, actionIndex).join("/");
    const revision = parts[actionIndex + 1] ?? "";
    const path = parts.slice(actionIndex + 2).join("/");
    const repo = authorize(request, type, name);
    const commit = commitOf(repo, revision);
    const file = commit.files.get(path);
    if (file === undefined) throw new HttpFailure(404, `Entry not found: ${path}`, "EntryNotFound");
    const unavailable = takeFault("unavailable", path);
    if (unavailable !== undefined && unavailable.kind === "unavailable") {
      response.writeHead(unavailable.status ?? 503).end();
      return;
    }
    const headers = { "X-Repo-Commit": commit.sha, ETag: `"${file.gitOid}"` };
    if (parts[actionIndex] === "raw" || !file.lfs) {
      const content = parts[actionIndex] === "raw" && file.lfs ? pointerOf(file) : file.content;
      sendContent({ request, response, content, headers, faultPath: path });
      return;
    }
    const location = `${baseUrl}/__lfs/objects/${file.sha256}?path=${encodeURIComponent(path)}`;
    response.writeHead(302, {
      ...headers,
      Location: location,
      "X-Linked-Etag": `"${file.sha256}"`,
      "X-Linked-Size": String(file.size),
      "Content-Length": "0",
    });
    response.end();
  }

  async function handle(request: IncomingMessage, response: ServerResponse) {
    requests.push({
      method: request.method ?? "",
      url: request.url ?? "",
      authorized: request.headers.authorization !== undefined,
      ...(request.headers.range === undefined ? {} : { range: request.headers.range }),
    });
    const url = new URL(request.url ?? "/", baseUrl);
    const segments = url.pathname
      .split("/")
      .slice(1)
      .map((segment) => decodeURIComponent(segment));
    if (segments[0] === "__lfs" && segments[1] === "objects") {
      const content = lfsObjects.get(segments[2] ?? "");
      if (content === undefined) throw new HttpFailure(404, "no such LFS object");
      const faultPath = url.searchParams.get("path") ?? "";
      const unavailable = takeFault("unavailable", faultPath);
      if (unavailable !== undefined && unavailable.kind === "unavailable") {
        response.writeHead(unavailable.status ?? 503).end();
        return;
      }
      sendContent({ request, response, content, headers: { ETag: `"${segments[2]}"` }, faultPath });
      return;
    }
    if (segments[0] === "__lfs" && segments[1] === "upload" && request.method === "PUT") {
      const oid = segments[2] ?? "";
      const content = await readBody(request);
      if (sha256Hex(content) !== oid) throw new HttpFailure(400, `uploaded content does not hash to ${oid}`);
      lfsObjects.set(oid, content);
      response.writeHead(200, { ETag: `"${oid}"` }).end();
      return;
    }
    const unavailable = takeFault("unavailable", undefined);
    if (unavailable !== undefined && unavailable.kind === "unavailable") {
      response.writeHead(unavailable.status ?? 503).end();
      return;
    }
    if (segments[0] === "api") {
      await handleApi(request, response, segments, url.searchParams);
      return;
    }
    await handleRepoRoute(request, response, segments);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof HttpFailure) {
        sendJson(
          response,
          error.status,
          { error: error.message },
          error.errorCode === undefined ? {} : { "X-Error-Code": error.errorCode },
        );
        return;
      }
      sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  const repoNamed = (name: string, type?: RepoType): StoredRepo => {
    const repo =
      type === undefined ? (findRepo("dataset", name) ?? findRepo("model", name)) : findRepo(type, name);
    if (repo === undefined) throw new Error(`test hub has no repo ${name}`);
    return repo;
  };

  return {
    url: baseUrl,
    requests,
    commitShas: (name, type) => repoNamed(name, type).commits.map((commit) => commit.sha),
    branchSha: (name, branch = "main", type) => repoNamed(name, type).refs.get(branch),
    addCommit: ({ repo: name, type, files, message, branch = "main" }) => {
      const repo = repoNamed(name, type);
      const stored = new Map<string, StoredFile>();
      for (const [path, content] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
        const bytes = toBuffer(content);
        const file = storeFile({
          content: bytes,
          lfs: repo.isLfsPath(path) || bytes.byteLength >= lfsSizeThreshold,
        });
        if (file.lfs) lfsObjects.set(file.sha256, file.content);
        stored.set(path, file);
      }
      const parent = repo.refs.get(branch) ?? null;
      const commit = makeCommit({
        repo,
        files: stored,
        message: message ?? `commit ${repo.commits.length}`,
        parent,
      });
      repo.commits.push(commit);
      repo.refs.set(branch, commit.sha);
      return commit.sha;
    },
    filesAt: (name, revision, type) => {
      const commit = findCommit(repoNamed(name, type), revision);
      return commit === undefined
        ? undefined
        : new Map([...commit.files.entries()].map(([path, file]) => [path, Buffer.from(file.content)]));
    },
    setFault: addFault,
    clearFaults: () => {
      faults.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
