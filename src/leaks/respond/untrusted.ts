/**
 * Text that an anonymous outsider supplied (the URL in a public leak report), made safe to show
 * to an owner: it cannot become a link, in a chat message, an e-mail, a Markdown or HTML view.
 * The owner still reads where the reporter says the secret was, as defanged text
 * (`hxxps://example[.]com/x`, the convention of incident reports), and every place that shows it
 * says it is unverified.
 */

/** Control, zero-width and bidirectional-override characters: they can hide or reorder text. */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * Defangs `text` so that no renderer turns it into a link: `http`/`https`/`ftp` schemes become
 * `hxxp`/`hxxps`/`fxp`, every `.` becomes `[.]` and `@` becomes `[@]` (no bare domain or mail
 * address is recognised), `://` after any other scheme becomes `[://]`, angle brackets and
 * backticks are dropped, and Markdown's `](` is broken. Idempotent: defanged text is unchanged.
 *
 * @example
 * ```ts
 * untrustedText('https://evil.example/login?u=a@b.c'); // 'hxxps://evil[.]example/login?u=a[@]b[.]c'
 * ```
 */
export function untrustedText(text: string): string {
  return text
    .replace(INVISIBLE, '')
    .replace(/[<>`]/g, '')
    .replace(/\b(h)tt(ps?)(?=:)/gi, (_m, h: string, p: string) => `${h}xx${p}`)
    .replace(/\b(f)tp(s?)(?=:)/gi, (_m, f: string, s: string) => `${f}xp${s}`)
    .replace(/(?<!\[):\/\/(?!\])/g, (m, offset: number, all: string) => (/hxxps?$|fxps?$/i.test(all.slice(0, offset)) ? m : '[://]'))
    .replace(/(?<!\[)\.(?!\])/g, '[.]')
    .replace(/(?<!\[)@(?!\])/g, '[@]')
    .replace(/\]\(/g, '] (');
}

/** The note that goes with an untrusted URL wherever it is shown. */
export const UNTRUSTED_NOTE = 'supplied by an anonymous reporter: unverified, defanged, not a link; do not open it without checking';
