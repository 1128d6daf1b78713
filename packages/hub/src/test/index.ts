/**
 * Test support for code that talks to the Hugging Face Hub: a local Hub-compatible server
 * (`startTestHub`) serving fixture repos, with fault injection. Import from
 * `@posttrain/hub/test`; never used in production code.
 */

export {
  type CdnHub,
  type CdnHubFault,
  type CdnHubFile,
  type CdnHubRepo,
  type CdnHubRequest,
  startCdnHub,
} from "./cdn-hub.js";
export { defaultLfsPatterns, type FixtureRepo, lfsSizeThreshold } from "./fixture-store.js";
export {
  type StartTestHubParams,
  startTestHub,
  type TestHub,
  type TestHubFault,
  type TestHubRequest,
} from "./server.js";
