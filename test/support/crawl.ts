/**
 * What a reader sees on a server-rendered page, and the code-like tokens that must not be there (issue 14's crawl
 * test, test/integration/readable-crawl.test.ts). No HTML parser is among the dependencies, and none is needed for
 * React's own output: it is well formed, quotes every attribute and escapes `<` and `>` inside them, so a tokenizer
 * with a stack of open elements is enough to know, for every piece of text, whether it is shown at all (not inside
 * script, style, template or a `hidden` element), whether it is an identifier shown as one (inside `<code>`) and
 * whether it is marked as another language (`lang="en"` on a Chinese page: the language switch's "English").
 */

export interface Segment {
  text: string;
  /** Inside `<code>`: an identifier (a client id, a key id, an email) shown as one. */
  code: boolean;
  /** The language the nearest `lang` attribute gives. */
  lang: string | null;
}

export interface Page {
  segments: Segment[];
  /** Same-origin links (href of `<a>` without `download`), as written. */
  links: string[];
}

const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]);
const SKIPPED = new Set(["script", "style", "template", "noscript", "head"]);
/** Attributes whose text a reader meets (on hover, in a field, read out by a screen reader). */
const SHOWN_ATTRIBUTES = ["placeholder", "aria-label", "title", "alt"];

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|nbsp);/gi, (_, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " }[lower] ?? "";
  });
}

function attributesOf(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const m of source.matchAll(/([^\s=/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attributes.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ""));
  }
  return attributes;
}

interface Open {
  tag: string;
  skipped: boolean;
  code: boolean;
  lang: string | null;
}

/** The page's visible text, piece by piece, and its links. */
export function readPage(html: string): Page {
  const segments: Segment[] = [];
  const links: string[] = [];
  const stack: Open[] = [{ tag: "#root", skipped: false, code: false, lang: null }];
  const top = () => stack[stack.length - 1]!;
  for (const m of html.matchAll(/<!--[\s\S]*?-->|<!doctype[^>]*>|<(\/?)([a-zA-Z][\w:-]*)((?:"[^"]*"|'[^']*'|[^"'>])*)>|([^<]+)/gi)) {
    const [whole, closing, rawTag, rawAttributes, text] = m;
    if (text !== undefined) {
      const current = top();
      if (!current.skipped) segments.push({ text: decodeEntities(text), code: current.code, lang: current.lang });
      continue;
    }
    if (!rawTag) continue; // a comment or the doctype
    const tag = rawTag.toLowerCase();
    if (closing) {
      const at = stack.map((s) => s.tag).lastIndexOf(tag);
      if (at > 0) stack.length = at;
      continue;
    }
    const attributes = attributesOf(rawAttributes ?? "");
    const parent = top();
    const open: Open = {
      tag,
      skipped: parent.skipped || SKIPPED.has(tag) || attributes.has("hidden"),
      code: parent.code || tag === "code",
      lang: attributes.get("lang") ?? parent.lang,
    };
    if (!open.skipped) {
      for (const name of SHOWN_ATTRIBUTES) {
        const value = attributes.get(name);
        if (value) segments.push({ text: ` ${value} `, code: open.code, lang: open.lang });
      }
      // Block boundaries separate words the way the page does.
      segments.push({ text: " ", code: false, lang: open.lang });
      if (tag === "a" && attributes.has("href") && !attributes.has("download")) links.push(attributes.get("href")!);
    }
    const selfClosing = whole.endsWith("/>");
    if (!VOID.has(tag) && !selfClosing) stack.push(open);
  }
  return { segments, links };
}

export interface Finding {
  rule: string;
  token: string;
  context: string;
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/g;
const URL_LIKE = /\bhttps?:\/\/[^\s"<>）)]+/g;
/** A host name as written in the spec and the demo (ocp.hkex.com, harbourview.example). */
const HOST = /\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|hk|demo|example|org|net|io|test|local)\b/g;

/** A date or time format as a form asks for it (YYYY-MM-DD, YYYY-MM-DDTHH:MM). */
const DATE_FORMAT = /\bYYYY-MM-DD(THH:MM(:SS)?)?\b/g;
/**
 * A generated id (a key id, a start of one, a nonce): 10 or more letters, digits, "-" and "_", that is neither a
 * camelCase nor a snake_case name — those are what the crawl looks for.
 */
const TOKEN_ID = /\b[A-Za-z0-9_-]{10,}/g;
const isTokenId = (token: string) => /[A-Z]/.test(token) && /[a-z]/.test(token) && !/^[a-z]+(?:[A-Z][a-z0-9]+)+$/.test(token);

/**
 * Acronyms a Chinese page may keep as HKEX's own Chinese documents keep them: the product and its parts (OCP, API,
 * JWT, JWKS, TOTP, CSV, SVG), HKEX and its clearing house (HKEX, HKSCC), message and code standards (BIC, ISO, UTC,
 * HKT, ID), the participant kinds' and roles' own abbreviations (SI settlement instruction, DA delegated
 * administrator, GCP, DCP, CP) and units a reader would write in Latin letters.
 */
export const ACRONYMS = new Set([
  "OCP", "API", "APIs", "JWT", "JWKS", "TOTP", "CSV", "SVG", "HKEX", "HKSCC", "BIC", "ISO", "UTC", "HKT", "ID", "IDs", "SI", "DA",
  "GCP", "DCP", "CP", "URL", "PEM", "RSA", "RS256", "PS256", "ES256", "SHA", "SHA-256", "kid", "iss", "sub", "aud", "exp", "iat", "jti",
  "HTTP", "HTTPS", "JSON", "RFC", "PEM", "JWK", "EC", "NCP", "IP", "UAT", "PROD", "KB", "MB", "HKD", "RMB", "CNY", "USD",
]);
/**
 * Words a Chinese page may show in English: the names of the languages in the language switch are marked `lang`, so
 * they are not here; what is here is justified one by one.
 */
export const ENGLISH_ALLOWED = new Set<string>([
  // The JWT claims shown as the standard writes them, beside their Chinese explanation (credentials page).
  "iss", "sub", "aud",
  // HKEX keeps the English name of its developer portal in its Chinese circulars (docs/glossary.md).
  "Developer", "Corner",
]);

const sortedNames = new WeakMap<readonly string[], string[]>();
/** Names longest first, so that a name containing another is taken out whole; single characters are not names. */
function longestFirst(names: readonly string[]): string[] {
  let sorted = sortedNames.get(names);
  if (!sorted) {
    sorted = [...new Set(names.map((n) => n.replace(/\s+/g, " ").trim()))].filter((n) => n.length > 1).sort((a, b) => b.length - a.length);
    sortedNames.set(names, sorted);
  }
  return sorted;
}

function context(text: string, index: number, length: number): string {
  return text.slice(Math.max(0, index - 40), index + length + 40).replace(/\s+/g, " ").trim();
}

/**
 * The code-like tokens in a page's text. `names` are data the users typed (people's, participants' and clients'
 * names, comments): taken out before looking, as they are whatever they are.
 */
export function findCodeLikeTokens(page: Page, locale: "en" | "zh-HK", names: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  const visible = page.segments.filter((s) => !s.code);
  const withoutNames = (from: string) => {
    let out = from;
    for (const name of longestFirst(names)) if (out.includes(name)) out = out.split(name).join(" ⟨•⟩ ");
    return out;
  };
  const text = withoutNames(visible.map((s) => s.text).join("").replace(/\s+/g, " "));
  const add = (rule: string, pattern: RegExp, on = text) => {
    for (const m of on.matchAll(pattern)) findings.push({ rule, token: m[0], context: context(on, m.index, m[0].length) });
  };
  add("unfilled placeholder", /\{[A-Za-z]\w*\}/g);
  add("empty value", /\b(undefined|null|NaN)\b|\[object \w+\]/g);
  add("ISO timestamp", /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b/g);
  add("raw UUID", UUID);
  const words = text.replace(URL_LIKE, " ⟨url⟩ ").replace(EMAIL, " ⟨email⟩ ").replace(HOST, " ⟨host⟩ ").replace(UUID, " ").replace(TOKEN_ID, (m) => (isTokenId(m) ? " ⟨id⟩ " : m));
  add("snake_case identifier", /\b[a-z][a-z0-9]*(_[a-z0-9]+)+\b/g, words);
  add("dotted identifier", /\b[a-z][a-zA-Z0-9]*(\.[a-z][a-zA-Z0-9]*)+\b/g, words);
  add("camelCase identifier", /\b[a-z]+[A-Z][a-zA-Z]*\b/g, words);
  if (locale === "zh-HK") {
    const chinese = page.segments
      .filter((s) => !s.code && (s.lang === null || s.lang.startsWith("zh")))
      .map((s) => s.text)
      .join("")
      .replace(/\s+/g, " ");
    let rest = withoutNames(chinese);
    rest = rest.replace(URL_LIKE, " ").replace(EMAIL, " ").replace(HOST, " ").replace(UUID, " ").replace(DATE_FORMAT, " ");
    rest = rest.replace(TOKEN_ID, (m) => (isTokenId(m) ? " " : m));
    for (const m of rest.matchAll(/[A-Za-z0-9][A-Za-z0-9'’._-]*/g)) {
      const word = m[0].replace(/[._-]+$/, "");
      // Ids and numbers: participant ids (B01234), versions (3.2.0), anything with a digit; single letters.
      if (/\d/.test(word) || word.length === 1) continue;
      // A BIC (ISO 9362: bank, country, location, branch) is an id.
      if (/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(word)) continue;
      if (ACRONYMS.has(word) || ENGLISH_ALLOWED.has(word)) continue;
      findings.push({ rule: "English on a Chinese page", token: word, context: context(rest, m.index, word.length) });
    }
  }
  return findings;
}
