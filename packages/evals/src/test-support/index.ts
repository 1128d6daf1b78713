/** Test helpers other packages may reuse: `@posttrain/evals/test`. */
export type { FakeGenerationInput, FakeOpenAiServer, FakeServerFaults } from "./fake-openai-server.js";
export { defaultFakeResponse, startFakeOpenAiServer } from "./fake-openai-server.js";
