/** `%`, `_` and `\` taken literally in a `like` pattern (escape '\'). */
function escapeLike(q: string): string {
  return q.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A `like` pattern that finds `q` anywhere, case-folded, with `%`, `_` and `\` taken literally (escape '\'). */
export function likePattern(q: string): string {
  return `%${escapeLike(q.toLowerCase())}%`;
}

/** A `like` pattern for values that start with `q`, as written (escape '\'). */
export function likePrefix(q: string): string {
  return `${escapeLike(q)}%`;
}
