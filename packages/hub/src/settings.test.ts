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

describe("token, offline and path rules of huggingface_hub", () => {
  it("reads the token from HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the saved login file", async () => {
    const { mkdtemp, mkdir, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const home = await mkdtemp(join(tmpdir(), "hf-home-"));
    try {
      await writeFile(join(home, "token"), "hf_saved_login\n");
      expect(hubSettingsFromEnvironment({ HF_HOME: home })).toMatchObject({
        accessToken: "hf_saved_login",
        accessTokenSource: join(home, "token"),
      });
      expect(
        hubSettingsFromEnvironment({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: "hf_legacy" }).accessToken,
      ).toBe("hf_legacy");
      expect(
        hubSettingsFromEnvironment({ HF_HOME: home, HF_TOKEN: "hf_env", HUGGING_FACE_HUB_TOKEN: "hf_legacy" })
          .accessToken,
      ).toBe("hf_env");
      await mkdir(join(home, "elsewhere"));
      await writeFile(join(home, "elsewhere", "tok"), "  hf_custom_path \r\n");
      expect(
        hubSettingsFromEnvironment({ HF_HOME: home, HF_TOKEN_PATH: join(home, "elsewhere", "tok") })
          .accessToken,
      ).toBe("hf_custom_path");
      // ~ and $VARIABLES expand in HF_TOKEN_PATH and HF_HOME, as os.path.expanduser/expandvars do.
      expect(
        hubSettingsFromEnvironment({ HOME: home, HF_HOME: "/nowhere", HF_TOKEN_PATH: "~/elsewhere/tok" })
          .accessToken,
      ).toBe("hf_custom_path");
      expect(hubSettingsFromEnvironment({ ROOT: home, HF_HOME: "$ROOT" }).accessToken).toBe("hf_saved_login");
      // HF_HUB_DISABLE_IMPLICIT_TOKEN: no token unless one is passed explicitly.
      expect(
        hubSettingsFromEnvironment({ HF_HOME: home, HF_TOKEN: "hf_env", HF_HUB_DISABLE_IMPLICIT_TOKEN: "1" })
          .accessToken,
      ).toBeUndefined();
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("expands ~ and variables in cache paths and reads TRANSFORMERS_OFFLINE", () => {
    expect(hubSettingsFromEnvironment({ HOME: "/home/u", HF_HUB_CACHE: "~/hf-cache" }).cacheDirectory).toBe(
      "/home/u/hf-cache",
    );
    expect(
      hubSettingsFromEnvironment({ SCRATCH: "/scratch", HF_HOME: ["$", "{SCRATCH}/hf"].join("") })
        .cacheDirectory,
    ).toBe("/scratch/hf/hub");
    expect(hubSettingsFromEnvironment({ HF_HUB_CACHE: "$UNSET_VARIABLE/c" }).cacheDirectory).toBe(
      "$UNSET_VARIABLE/c",
    );
    expect(hubSettingsFromEnvironment({ TRANSFORMERS_OFFLINE: "1" }).offline).toBe(true);
    // As in Python, HF_HUB_OFFLINE wins when set, even to a false value.
    expect(hubSettingsFromEnvironment({ HF_HUB_OFFLINE: "0", TRANSFORMERS_OFFLINE: "1" }).offline).toBe(
      false,
    );
  });
});
