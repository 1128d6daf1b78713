// Its own file so transport.ts and errors.ts (which import each other's helpers) have no
// file-level import cycle.

/** True for HTTP statuses worth retrying: server errors, rate limiting, request timeout. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}
