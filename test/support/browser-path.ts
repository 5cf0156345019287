import { existsSync } from "node:fs";

/** Debian's Chromium, or CHROMIUM_PATH; null when there is none (browser tests then skip, unless required). */
export function chromiumPath(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return null;
}
