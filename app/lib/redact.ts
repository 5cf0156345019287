/** One-time link tokens are credentials: a logged path never carries one (docs/security.md). */
export function redactedPath(path: string): string {
  return path.replace(/\/activate\/[^/?#]+/g, "/activate/[redacted]");
}
