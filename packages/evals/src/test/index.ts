/**
 * `@posttrain/evals/test`: test support other packages reuse (built into `dist/test/`, never
 * published): an OpenAI-compatible fake server and the tiny served model of the serve tests
 * and `bench:serve`.
 */
export type { FakeGenerationInput, FakeOpenAiServer, FakeServerFaults } from "./fake-openai-server.js";
export { defaultFakeResponse, startFakeOpenAiServer } from "./fake-openai-server.js";
export { writeTinyServeModel } from "./write-serve-model.js";
