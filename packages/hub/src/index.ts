export {
  type DownloadedFile,
  type DownloadRepoFileParams,
  downloadRepoFile,
  maximumHttpDownloadBytes,
} from "./download.js";
export { HubError, type HubErrorCode } from "./errors.js";
export { gitBlobOid, lfsPointerOid, lfsPointerText } from "./git-oid.js";
export { type HubFile, type ListRepoFilesParams, listRepoFiles } from "./list.js";
export { createPathFilter, globToRegExp, matchesAnyPattern } from "./patterns.js";
export { isCommitSha, parseRepoReference, type RepoReference, type RepoType } from "./repository.js";
export { type ResolveRevisionParams, resolveRevision } from "./resolve.js";
export {
  defaultHubEndpoint,
  defaultMaximumRateLimitWaitMilliseconds,
  defaultRetryPolicy,
  expandPath,
  type HubOverrides,
  type HubSettings,
  hubSettingsFromEnvironment,
  type RetryEvent,
  type RetryPolicy,
} from "./settings.js";
export {
  type RepoSnapshot,
  type SnapshotProgress,
  type SnapshotRepoParams,
  snapshotRepo,
} from "./snapshot.js";
export { type UploadFilesParams, uploadFiles } from "./upload.js";
