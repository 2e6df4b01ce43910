import { describe, expect, it } from 'vitest';
import { htmlText, MAX_MESSAGE_CHARS, messageText } from './message.ts';

const plain = [
  'From someone@example.com  Thu Aug 22 13:17:22 2002',
  'Return-Path: <someone@example.com>',
  'Received: from mail.example.com',
  '\tby relay.example.org; Thu, 22 Aug 2002',
  'Subject: Lunch',
  '  on Friday?',
  'Content-Type: text/plain; charset="iso-8859-1"',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Shall we meet at noon? Caf=E9 by the river.=',
  '',
  '',
  'Bye',
].join('\n');

describe('message text', () => {
  it('keeps the subject and the decoded body, not the other headers', async () => {
    expect(await messageText(plain)).toBe('Lunch on Friday?\nShall we meet at noon? Café by the river.\nBye');
  });

  it('takes the words of an HTML-only body', async () => {
    const html = [
      'Subject: Win',
      'Content-Type: text/html',
      '',
      '<html><head><style>p{color:red}</style></head><body><p>Claim&nbsp;your <b>prize</b> &amp; more&#33;</p><!-- x --></body></html>',
    ].join('\n');
    expect(await messageText(html)).toBe('Win\nClaim your prize & more!');
  });

  it('takes the plain part of a multipart message', async () => {
    const multipart = [
      'Subject: Both',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'Plain words',
      '--b1',
      'Content-Type: text/html',
      '',
      '<p>Html words</p>',
      '--b1--',
    ].join('\n');
    expect(await messageText(multipart)).toBe('Both\nPlain words');
  });

  it('takes text without a header block as the body, and caps the length', async () => {
    expect(await messageText('Win money now!\nClick here.')).toBe('\nWin money now!\nClick here.');
    expect(await messageText('')).toBe('\n');
    expect((await messageText('x'.repeat(MAX_MESSAGE_CHARS + 10))).length).toBe(MAX_MESSAGE_CHARS);
  });

  it('decodes numeric entities and leaves unknown ones', () => {
    expect(htmlText('&#x41;&#66; &bogus; &lt;')).toBe('AB &bogus; <');
  });
});
