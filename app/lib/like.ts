/** A `like` pattern that finds `q` anywhere, case-folded, with `%`, `_` and `\` taken literally (escape '\'). */
export function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
