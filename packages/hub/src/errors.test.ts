import { HubApiError } from "@huggingface/hub";
import { PosttrainError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { HubError, hubErrorFromStatus, toHubError } from "./errors.js";

const context = { repo: { type: "dataset", name: "acme/qa" }, revision: "main", path: "a.parquet" };

function apiError(status: number, message: string): HubApiError {
  const error = new HubApiError("https://hub.test/api/datasets/acme/qa/revision/main", status);
  error.message = `${message}. URL: https://hub.test/api/datasets/acme/qa/revision/main?expand=gated`;
  return error;
}

describe("Hub error mapping", () => {
  it("maps statuses and X-Error-Code to stable codes", () => {
    expect(hubErrorFromStatus({ status: 401, context }).code).toBe("hub_unauthorized");
    expect(hubErrorFromStatus({ status: 401, errorCode: "GatedRepo", context }).code).toBe("hub_gated");
    // Only a GatedRepo answer is "gated"; any other 403 says what it is.
    expect(hubErrorFromStatus({ status: 403, errorCode: "GatedRepo", context }).code).toBe("hub_gated");
    expect(hubErrorFromStatus({ status: 403, context }).code).toBe("hub_forbidden");
    expect(hubErrorFromStatus({ status: 403, context }).message).toContain('"read" scope');
    const disabled = hubErrorFromStatus({
      status: 403,
      context,
      failure: { url: "u", status: 403, errorMessage: "Access to this resource is disabled.", attempts: 1 },
    });
    expect(disabled.code).toBe("hub_forbidden");
    expect(disabled.message).toContain("disabled");
    expect(disabled.message).toContain('X-Error-Message "Access to this resource is disabled."');
    expect(hubErrorFromStatus({ status: 429, context }).code).toBe("hub_rate_limited");
    expect(hubErrorFromStatus({ status: 404, errorCode: "RepoNotFound", context }).code).toBe(
      "hub_not_found",
    );
    expect(hubErrorFromStatus({ status: 404, errorCode: "RevisionNotFound", context }).code).toBe(
      "hub_revision_not_found",
    );
    expect(hubErrorFromStatus({ status: 404, errorCode: "EntryNotFound", context }).code).toBe(
      "hub_file_not_found",
    );
    expect(hubErrorFromStatus({ status: 500, context }).code).toBe("hub_transfer_failed");
  });

  it("falls back to the Hub's message when the header is missing, ignoring the URL the library appends", () => {
    expect(toHubError(apiError(404, "Revision Not Found for url"), context).code).toBe(
      "hub_revision_not_found",
    );
    expect(toHubError(apiError(404, "Entry not found"), context).code).toBe("hub_file_not_found");
    // "expand=gated" in the URL must not make a plain 404 look gated.
    expect(toHubError(apiError(404, "Repository Not Found"), context).code).toBe("hub_not_found");
    expect(toHubError(apiError(404, "whatever"), context, "EntryNotFound").code).toBe("hub_file_not_found");
  });

  it("names the repo, revision and path, and stays a PosttrainError", () => {
    const error = toHubError(apiError(401, "Unauthorized"), context);
    expect(error).toBeInstanceOf(HubError);
    expect(PosttrainError.isInstance(error)).toBe(true);
    expect(error.message).toContain("dataset acme/qa");
    expect(error.details).toMatchObject({
      repo: "acme/qa",
      repoType: "dataset",
      revision: "main",
      path: "a.parquet",
      status: 401,
    });
    expect(error.toJSON()).toMatchObject({ code: "hub_unauthorized" });
  });

  it("passes HubErrors through and wraps anything else as a transfer failure", () => {
    const original = new HubError({ code: "hub_offline_missing", message: "m" });
    expect(toHubError(original, context)).toBe(original);
    expect(toHubError(new Error("socket hang up"), context).code).toBe("hub_transfer_failed");
    expect(toHubError(new TypeError("Your access token must start with 'hf_'"), context).code).toBe(
      "hub_unauthorized",
    );
  });
});
