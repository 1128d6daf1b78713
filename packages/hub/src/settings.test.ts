import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { effectiveSettings, hubSettingsFromEnvironment } from "./settings.js";

describe("hubSettingsFromEnvironment", () => {
  it("defaults like huggingface_hub", () => {
    expect(hubSettingsFromEnvironment({ HF_TOKEN_PATH: "/nonexistent/token" })).toEqual({
      endpoint: "https://huggingface.co",
      accessToken: undefined,
      cacheDirectory: join(homedir(), ".cache", "huggingface", "hub"),
      offline: false,
    });
  });

  it("reads HF_ENDPOINT, HF_TOKEN, HF_HOME and HF_HUB_OFFLINE", () => {
    expect(
      hubSettingsFromEnvironment({
        HF_ENDPOINT: "http://127.0.0.1:8080/",
        HF_TOKEN: "hf_abc",
        HF_HOME: "/data/hf",
        HF_HUB_OFFLINE: "1",
      }),
    ).toEqual({
      endpoint: "http://127.0.0.1:8080",
      accessToken: "hf_abc",
      accessTokenSource: "HF_TOKEN",
      cacheDirectory: "/data/hf/hub",
      offline: true,
    });
  });

  it("gives HF_HUB_CACHE precedence over HF_HOME, and HF_HOME over XDG_CACHE_HOME", () => {
    expect(hubSettingsFromEnvironment({ HF_HUB_CACHE: "/c", HF_HOME: "/h" }).cacheDirectory).toBe("/c");
    expect(hubSettingsFromEnvironment({ HF_HOME: "/h", XDG_CACHE_HOME: "/x" }).cacheDirectory).toBe("/h/hub");
    expect(hubSettingsFromEnvironment({ XDG_CACHE_HOME: "/x" }).cacheDirectory).toBe("/x/huggingface/hub");
    expect(hubSettingsFromEnvironment({ HUGGINGFACE_HUB_CACHE: "/legacy" }).cacheDirectory).toBe("/legacy");
  });

  it("accepts the legacy token variable and the usual truthy spellings", () => {
    expect(hubSettingsFromEnvironment({ HUGGING_FACE_HUB_TOKEN: "hf_old" }).accessToken).toBe("hf_old");
    expect(hubSettingsFromEnvironment({ HF_TOKEN: "  " }).accessToken).toBeUndefined();
    for (const value of ["true", "YES", "on"])
      expect(hubSettingsFromEnvironment({ HF_HUB_OFFLINE: value }).offline).toBe(true);
    for (const value of ["0", "false", ""])
      expect(hubSettingsFromEnvironment({ HF_HUB_OFFLINE: value }).offline).toBe(false);
  });
});

describe("effectiveSettings", () => {
  it("lets overrides win, and null turn the token off", () => {
    const settings = effectiveSettings({
      hubUrl: "http://hub.test/",
      accessToken: null,
      cacheDirectory: "/cache",
      offline: true,
      retry: { attempts: 2 },
    });
    expect(settings).toMatchObject({
      endpoint: "http://hub.test",
      accessToken: undefined,
      cacheDirectory: "/cache",
      offline: true,
    });
    expect(settings.retry).toEqual({
      attempts: 2,
      initialDelayMilliseconds: 500,
      maximumDelayMilliseconds: 8000,
    });
  });
});
