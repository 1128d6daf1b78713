/**
 * One admission limit shared by every generating route of `posttrain serve` (`/v1/completions`,
 * `/v1/chat/completions`, `/v1/responses`, `/generate`), so that no request body can exhaust
 * memory or hold the event loop:
 *
 * 1. **Body bytes.** A body over `maxBodyBytes` is refused with 413 from its `content-length`
 *    or as soon as the bytes read pass the limit; the bytes all requests are buffering together
 *    are capped too (`maxBufferedBodyBytes`, else 503), so many concurrent large bodies cannot
 *    add up.
 * 2. **Rows and characters, before any per-prompt work.** {@link measureRequest} walks the
 *    parsed JSON structurally (no zod, no tokeniser) and counts the rows it would generate
 *    (prompts × `n`), the characters of each text prompt and the ids of each token prompt.
 *    A request with more rows than `maxPendingRows`, a text prompt over `maxPromptCharacters`
 *    or a token prompt longer than the context is refused (400) here, in time linear in the
 *    body and with no allocation per row.
 * 3. **Rows in flight.** {@link Admission.reserveRows} counts the rows of every accepted
 *    request from before its prompts are tokenised until its answer is sent; a request that
 *    would take the total over `maxPendingRows` gets 503 + `Retry-After`.
 *
 * Tokenising an accepted request yields to the event loop between prompts
 * ({@link yieldToEventLoop}), so one request holds the loop for at most one prompt of at most
 * `maxPromptCharacters` characters.
 */
import { ServeRequestError } from "./errors.js";

export interface AdmissionLimits {
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Bytes all requests may be buffering at once (others wait for 503 + retry). */
  maxBufferedBodyBytes: number;
  /** Rows (prompts × n) queued, being prepared or decoding at once; also the most one request may ask. */
  maxPendingRows: number;
  /**
   * Longest text prompt in UTF-16 characters; a chat counts its messages' content plus
   * {@link chatMessageOverheadCharacters} per message.
   */
  maxPromptCharacters: number;
}

/** Defaults (documented in the README's serve section). */
export const defaultAdmissionLimits = {
  maxBodyBytes: 2 * 1024 * 1024,
  maxBufferedBodyBytes: 64 * 1024 * 1024,
  maxPendingRows: 4096,
  /** Characters per context token: prompts longer than contextLength × this are refused. */
  promptCharactersPerToken: 8,
} as const;

/**
 * Characters each chat message counts for on top of its content: the template's markup
 * (`<|user|>\n`, end-of-turn tokens, …), so that many empty messages — cheap in bytes, but
 * each rendered by the chat template — count against the prompt limit too.
 */
export const chatMessageOverheadCharacters = 16;

/** What a request would generate, measured on the raw JSON. */
export interface RequestMeasure {
  rows: number;
  /** Characters of each text prompt (chat: of all messages' content together). */
  promptCharacters: number[];
  /** Ids of each token-id prompt. */
  promptTokens: number[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `n` as the request gives it, if it is a positive integer; else 1 (zod reports the field later). */
const choicesOf = (value: unknown): number =>
  typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 1;

/** Text or token-id prompts of an OpenAI `prompt` or SGLang `text`/`input_ids` field. */
function measurePrompts(value: unknown, measure: RequestMeasure): number {
  if (typeof value === "string") {
    measure.promptCharacters.push(value.length);
    return 1;
  }
  if (!Array.isArray(value) || value.length === 0) return 0;
  if (typeof value[0] === "number") {
    measure.promptTokens.push(value.length);
    return 1;
  }
  let prompts = 0;
  for (const entry of value) {
    if (typeof entry === "string") measure.promptCharacters.push(entry.length);
    else if (Array.isArray(entry)) measure.promptTokens.push(entry.length);
    prompts += 1;
  }
  return prompts;
}

/** Characters of a chat message's `content` (a string or text parts). */
function contentCharacters(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return 0;
  let characters = 0;
  for (const part of content)
    if (isRecord(part) && typeof part["text"] === "string") characters += part["text"].length;
  return characters;
}

/**
 * Measures a parsed body for `route` without validating it: rows it would generate and the
 * length of each prompt. Fields of the wrong type count as nothing (zod names them afterwards).
 */
export function measureRequest(params: {
  route: "completions" | "chat" | "responses" | "generate";
  body: unknown;
}): RequestMeasure {
  const measure: RequestMeasure = { rows: 0, promptCharacters: [], promptTokens: [] };
  const { body } = params;
  if (!isRecord(body)) return measure;
  switch (params.route) {
    case "completions":
      measure.rows = measurePrompts(body["prompt"], measure) * choicesOf(body["n"]);
      break;
    case "chat": {
      let characters = 0;
      if (Array.isArray(body["messages"]))
        for (const message of body["messages"])
          characters +=
            chatMessageOverheadCharacters + (isRecord(message) ? contentCharacters(message["content"]) : 0);
      measure.promptCharacters.push(characters);
      measure.rows = choicesOf(body["n"]);
      break;
    }
    case "responses": {
      const input = body["input"];
      let characters = typeof body["instructions"] === "string" ? body["instructions"].length : 0;
      if (typeof input === "string") characters += input.length;
      else if (Array.isArray(input))
        for (const item of input)
          characters +=
            chatMessageOverheadCharacters + (isRecord(item) ? contentCharacters(item["content"]) : 0);
      measure.promptCharacters.push(characters);
      measure.rows = 1;
      break;
    }
    case "generate": {
      const prompts = measurePrompts(body["text"] ?? body["input_ids"], measure);
      const sampling = body["sampling_params"];
      if (Array.isArray(sampling)) {
        // One entry per prompt (a count mismatch is refused later); rows are the sum of their n.
        let rows = 0;
        for (const entry of sampling.slice(0, prompts)) rows += choicesOf(isRecord(entry) ? entry["n"] : 1);
        measure.rows = rows + Math.max(0, prompts - sampling.length);
      } else {
        measure.rows = prompts * choicesOf(isRecord(sampling) ? sampling["n"] : 1);
      }
      break;
    }
  }
  return measure;
}

/** Lets other requests (and `/health`) run between two pieces of one request's work. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface Admission {
  readonly limits: AdmissionLimits;
  /** Rows reserved by requests being prepared, queued or decoding. */
  readonly rowsInFlight: number;
  /** Body bytes being buffered now. */
  readonly bufferedBodyBytes: number;
  /**
   * Refuses (400) a request that could never be served within the limits, before any
   * per-prompt work: too many rows, a text prompt too long, a token prompt longer than the
   * context.
   */
  check(params: { measure: RequestMeasure; contextLength: number; promptParam: string }): void;
  /** Refuses (400) a rendered chat prompt over the character limit, before it is tokenised. */
  checkRendered(params: { characters: number; promptParam: string }): void;
  /** Reserves `rows`; 503 when the server is full. Call the returned function exactly once when done. */
  reserveRows(rows: number): () => void;
  /** Reserves `bytes` of body buffer; false when the shared budget is spent. */
  reserveBodyBytes(bytes: number): boolean;
  releaseBodyBytes(bytes: number): void;
}

export function createAdmission(limits: AdmissionLimits): Admission {
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new RangeError(`admission limit ${name} must be a positive integer, got ${value}`);
  let rowsInFlight = 0;
  let bufferedBodyBytes = 0;
  return {
    limits,
    get rowsInFlight() {
      return rowsInFlight;
    },
    get bufferedBodyBytes() {
      return bufferedBodyBytes;
    },
    check({ measure, contextLength, promptParam }) {
      if (measure.rows > limits.maxPendingRows)
        throw new ServeRequestError({
          code: "serve_too_many_rows",
          status: 400,
          param: "n",
          message: `the request asks for ${measure.rows} sequences (prompts × n); this server accepts at most ${limits.maxPendingRows} (--max-pending-rows)`,
        });
      const longText = measure.promptCharacters.findIndex((length) => length > limits.maxPromptCharacters);
      if (longText >= 0)
        throw new ServeRequestError({
          code: "serve_prompt_too_long",
          status: 400,
          param: promptParam,
          message: `a prompt has ${measure.promptCharacters[longText]} characters; this server accepts at most ${limits.maxPromptCharacters} (--max-prompt-characters), checked before tokenising`,
        });
      const longTokens = measure.promptTokens.findIndex((length) => length > contextLength);
      if (longTokens >= 0)
        throw new ServeRequestError({
          code: "serve_prompt_too_long",
          status: 400,
          param: promptParam,
          message: `a prompt has ${measure.promptTokens[longTokens]} tokens; this model's context is ${contextLength}`,
        });
    },
    checkRendered({ characters, promptParam }) {
      if (characters > limits.maxPromptCharacters)
        throw new ServeRequestError({
          code: "serve_prompt_too_long",
          status: 400,
          param: promptParam,
          message: `the rendered chat prompt has ${characters} characters; this server accepts at most ${limits.maxPromptCharacters} (--max-prompt-characters), checked before tokenising`,
        });
    },
    reserveRows(rows) {
      if (rowsInFlight + rows > limits.maxPendingRows)
        throw new ServeRequestError({
          code: "serve_overloaded",
          status: 503,
          message: `the server has ${rowsInFlight} sequences in flight (limit ${limits.maxPendingRows}); retry later`,
        });
      rowsInFlight += rows;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rowsInFlight -= rows;
      };
    },
    reserveBodyBytes(bytes) {
      if (bufferedBodyBytes + bytes > limits.maxBufferedBodyBytes) return false;
      bufferedBodyBytes += bytes;
      return true;
    },
    releaseBodyBytes(bytes) {
      bufferedBodyBytes -= bytes;
    },
  };
}
