import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "~/env.server";

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("loadConfig accepted a bad environment");
}

describe("configuration from the environment", () => {
  it.each(["abc", "0", "70000", "80.5"])("refuses PORT=%s, naming the variable", (port) => {
    expect(problemsOf({ PORT: port })).toMatch(/PORT/);
  });

  it.each(["mysql://db/ocp", "localhost:5432", "http://db:5432/ocp"])(
    "refuses DATABASE_URL=%s, naming the variable and what it should be",
    (url) => {
      const message = problemsOf({ DATABASE_URL: url });
      expect(message).toMatch(/DATABASE_URL/);
      expect(message).toMatch(/postgres:\/\//);
    },
  );

  it.each(["maybe", "on", "2"])("refuses DEMO_MODE=%s, naming the variable and the values it takes", (value) => {
    const message = problemsOf({ DEMO_MODE: value });
    expect(message).toMatch(/DEMO_MODE/);
    expect(message).toMatch(/1, 0, true, false, yes, no/);
  });

  it("names every bad variable at once", () => {
    const message = problemsOf({ PORT: "x", DATABASE_URL: "mysql://db", DEMO_MODE: "maybe" });
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).toMatch(/DEMO_MODE/);
  });

  it("does not echo a database password in its message", () => {
    expect(problemsOf({ DATABASE_URL: "mysql://ocp:s3cret-pw@db/ocp" })).not.toContain("s3cret-pw");
  });

  it("runs the embedded demo by default", () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.demoMode).toBe(true);
    expect(config.port).toBe(3000);
  });

  it("turns demo mode off by default with a PostgreSQL database, and on when asked", () => {
    const url = "postgres://ocp@db:5432/ocp";
    expect(loadConfig({ DATABASE_URL: url }).demoMode).toBe(false);
    expect(loadConfig({ DATABASE_URL: url, DEMO_MODE: "1" }).demoMode).toBe(true);
    expect(loadConfig({ DEMO_MODE: "no" }).demoMode).toBe(false);
  });

  it("treats an empty variable as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", PORT: "" })).toMatchObject({ demoMode: true, port: 3000 });
  });

  it("makes cookies Secure in production unless told otherwise", () => {
    expect(loadConfig({ NODE_ENV: "production" }).cookieSecure).toBe(true);
    expect(loadConfig({ NODE_ENV: "production", COOKIE_SECURE: "0" }).cookieSecure).toBe(false);
    expect(loadConfig({}).cookieSecure).toBe(false);
    expect(loadConfig({ COOKIE_SECURE: "1" }).cookieSecure).toBe(true);
  });

  it("keeps only the origin of APP_ORIGIN", () => {
    expect(loadConfig({ APP_ORIGIN: "https://console.example.com/some/path" }).appOrigin).toBe(
      "https://console.example.com",
    );
    expect(problemsOf({ APP_ORIGIN: "console.example.com" })).toMatch(/APP_ORIGIN/);
  });
});
