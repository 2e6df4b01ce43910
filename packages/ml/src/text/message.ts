import PostalMime from 'postal-mime';

/** A message starts with a header field (RFC 5322 section 2.2: a name of printable characters but ':', then ':') or an mbox "From " line. */
const HEADER_LINE = /^(From |[\x21-\x39\x3b-\x7e]+:)/;

/** Characters of a message's text kept at most: features need the first words, not attachments. */
export const MAX_MESSAGE_CHARS = 20_000;

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

/** The words of an HTML body: scripts, styles and comments dropped, tags as spaces, common entities decoded. */
export function htmlText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#\d+|#x[\da-f]+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code =
          name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    });
}

/**
 * The text of a raw RFC 822 / MIME message (RFC 5322, RFC 2045): its subject, a newline, then
 * its plain-text body (or its HTML body's words when it has no plain one). Headers other than
 * the subject, and attachments, are left out: they name servers and dates, not what the message
 * says. Parsing (transfer encodings, charsets, multipart) is postal-mime's. Text that is not a
 * message (no header block) is taken as the body.
 */
export async function messageText(raw: string): Promise<string> {
  if (!HEADER_LINE.test(raw)) return tidy('', raw);
  const email = await PostalMime.parse(raw);
  const subject = (email.subject ?? '').replace(/\s+/g, ' ').trim();
  const body = email.text?.trim() ? email.text : email.html ? htmlText(email.html) : '';
  return tidy(subject, body);
}

function tidy(subject: string, body: string): string {
  const text = `${subject}\n${body
    .replace(/[ \t]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n')
    .trim()}`;
  return text.slice(0, MAX_MESSAGE_CHARS);
}
