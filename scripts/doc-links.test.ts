import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { lexer, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';

// Every relative link of the project's documentation points at a file that exists and, when it
// names an #anchor, at a heading of that file (anchors as GitHub makes them: github-slugger).

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function markdownUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownUnder(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

const DOCS = ['README.md', 'bench/README.md', ...markdownUnder('docs')];

/** Every link and image of a token tree, in document order. */
function links(tokens: readonly Token[]): string[] {
  return tokens.flatMap((token) => {
    const own = token.type === 'link' || token.type === 'image' ? [(token as Tokens.Link).href] : [];
    const children = 'tokens' in token && Array.isArray(token.tokens) ? links(token.tokens) : [];
    const items = token.type === 'list' ? links((token as Tokens.List).items) : [];
    const cells =
      token.type === 'table'
        ? links(
            [...(token as Tokens.Table).header, ...(token as Tokens.Table).rows.flat()].flatMap(
              (c) => c.tokens,
            ),
          )
        : [];
    return [...own, ...children, ...items, ...cells];
  });
}

const anchorCache = new Map<string, Set<string>>();

/** The anchors GitHub gives a Markdown file's headings. */
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (!anchors) {
    const slugger = new GithubSlugger();
    anchors = new Set(
      lexer(readFileSync(file, 'utf8'))
        .filter((t): t is Tokens.Heading => t.type === 'heading')
        .map((heading) => slugger.slug(heading.text.replace(/`/g, ''))),
    );
    anchorCache.set(file, anchors);
  }
  return anchors;
}

/** What is wrong with one link of `from`, or null when it resolves. */
function brokenLink(from: string, href: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return null; // http:, https:, mailto: are not checked here
  const [pathPart = '', anchor] = href.split('#', 2);
  const target = pathPart === '' ? join(ROOT, from) : resolve(dirname(join(ROOT, from)), decodeURI(pathPart));
  if (!target.startsWith(ROOT) || !existsSync(target)) return `${href}: no file ${relative(ROOT, target)}`;
  if (anchor === undefined) return null;
  if (!statSync(target).isFile() || !target.endsWith('.md'))
    return `${href}: an anchor into a file that is not Markdown`;
  return anchorsOf(target).has(decodeURIComponent(anchor)) ? null : `${href}: no heading #${anchor}`;
}

describe('documentation links', () => {
  it('covers the README, every file of docs/ and bench/README.md', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'bench/README.md', 'docs/design.md']));
  });

  it.each(DOCS)('%s: every relative link and #anchor resolves', (doc) => {
    const hrefs = links(lexer(readFileSync(join(ROOT, doc), 'utf8')));
    const broken = hrefs.map((href) => brokenLink(doc, href)).filter((problem) => problem !== null);
    expect(broken).toEqual([]);
  });

  it('finds a broken file and a broken anchor', () => {
    expect(brokenLink('README.md', 'docs/no-such-file.md')).toMatch(/no file/);
    expect(brokenLink('README.md', 'docs/design.md#no-such-heading')).toMatch(/no heading/);
    expect(brokenLink('README.md', 'docs/design.md#secure-aggregation')).toBeNull();
    expect(brokenLink('docs/design.md', '#upload-compression')).toBeNull();
  });
});
