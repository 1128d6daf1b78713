/**
 * Test support for code that talks to schedulers and inference servers: a Ray Job Submission
 * API server and an SGLang/vLLM-style generation server with weight reloads. Import from
 * `@posttrain/export/test`; never used in production code.
 */

export { startTestGenerationServer, type TestGenerationServer } from "./generation-server.js";
export { startTestRayServer, type TestRayServer } from "./ray-server.js";
export { resultsFile } from "./results-file.js";
