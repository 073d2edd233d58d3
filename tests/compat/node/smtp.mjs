// A tiny SMTP server for the Node compatibility tests: it accepts every message
// (plain SMTP on 127.0.0.1, no TLS, no AUTH) and keeps it, decoded, so a test can
// read the links Gatehouse emails.
//
//   const smtp = await new SmtpServer().start();   // smtp.url: smtp://127.0.0.1:<port>
//   const [mail] = await smtp.waitFor(1, (m) => m.to.includes(email));
//   mail.subject; mail.text; mail.html; mail.links
//   await smtp.close();

import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One received message: envelope, headers, and the decoded text and HTML parts. */
export class Mail {
  constructor(from, to, raw) {
    this.from = from; // envelope sender (MAIL FROM)
    this.to = to; // envelope recipients (RCPT TO)
    this.raw = raw; // the message as sent, dot-stuffing undone
    const { headers, body } = splitMessage(raw);
    this.headers = headers;
    this.subject = decodeWords(headers.get('subject') ?? '');
    const parts = leafParts(headers, body);
    this.text = parts.filter((p) => p.type === 'text/plain').map((p) => p.content).join('\n');
    this.html = parts.filter((p) => p.type === 'text/html').map((p) => p.content).join('\n');
  }

  /** The one link whose path is `pathname`; throws (showing the message) if there is not exactly one. */
  link(pathname) {
    const found = this.links.filter((u) => new URL(u).pathname === pathname);
    if (found.length !== 1) {
      throw new Error(`expected one ${pathname} link in "${this.subject}", found ${found.length}:\n${this.text}`);
    }
    return found[0];
  }

  /** Every http(s) URL in the text and HTML parts (HTML entities in attributes undone), in order. */
  get links() {
    const found = `${this.text}\n${this.html}`.match(/https?:\/\/[^\s"'<>]+/g) ?? [];
    return [...new Set(found.map((u) => u.replace(/&amp;/g, '&')))];
  }
}

/** Headers (unfolded, lower-case names; the first of each name) and the body of a MIME entity. */
function splitMessage(raw) {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 2);
  const headers = new Map();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** A header parameter, e.g. boundary or charset. */
function parameter(value, name) {
  const m = value.match(new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i'));
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The non-multipart parts of an entity, each { type, content } with its transfer encoding undone. */
function leafParts(headers, body) {
  const contentType = headers.get('content-type') ?? 'text/plain';
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = parameter(contentType, 'boundary');
    if (!boundary) return [];
    const delimiter = `--${boundary}`;
    const sections = body.split('\n').reduce((acc, line) => {
      if (line === delimiter || line === `${delimiter}--`) acc.push([]);
      else if (acc.length) acc[acc.length - 1].push(line);
      return acc;
    }, []);
    sections.pop(); // what follows the closing delimiter (the epilogue)
    return sections.flatMap((lines) => {
      const part = splitMessage(lines.join('\n'));
      return leafParts(part.headers, part.body);
    });
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  const charset = (parameter(contentType, 'charset') ?? 'utf-8').toLowerCase();
  return [{ type, content: decodeBody(body, encoding, charset) }];
}

function decodeBody(body, encoding, charset) {
  let bytes;
  if (encoding === 'quoted-printable') bytes = quotedPrintable(body);
  else if (encoding === 'base64') bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  else bytes = Buffer.from(body, 'utf8');
  return new TextDecoder(charset === 'us-ascii' ? 'utf-8' : charset).decode(bytes);
}

/** Quoted-printable (RFC 2045 §6.7): drop `=` soft line breaks, decode `=XX`. */
function quotedPrintable(body) {
  const joined = body.replace(/[ \t]+$/gm, '').replace(/=\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i += 1) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words in a header (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`). */
function decodeWords(value) {
  return value
    .replace(/\?=\s+=\?/g, '?==?') // white space between encoded words is not shown
    .replace(/=\?([^?]+)\?([bq])\?([^?]*)\?=/gi, (_, charset, kind, data) => {
      const bytes = kind.toLowerCase() === 'b'
        ? Buffer.from(data, 'base64')
        : quotedPrintable(data.replace(/_/g, ' '));
      return new TextDecoder(charset.toLowerCase()).decode(bytes);
    });
}

/** An SMTP listener on 127.0.0.1 that keeps every message it is given. */
export class SmtpServer {
  /** Received messages, in order of arrival. */
  messages = [];
  /** Commands it did not know (for debugging a failing test). */
  unknown = [];
  #server = null;
  #sockets = new Set();

  get port() { return this.#server.address().port; }
  get url() { return `smtp://127.0.0.1:${this.port}`; }

  /** Listen on a free port; resolves with this. */
  async start() {
    this.#server = createServer((socket) => this.#session(socket));
    await new Promise((ok, fail) => {
      this.#server.once('error', fail);
      this.#server.listen(0, '127.0.0.1', ok);
    });
    return this;
  }

  /** Stop listening and drop open connections (the sender may keep one open in a pool). */
  async close() {
    if (!this.#server) return;
    const closed = new Promise((ok) => this.#server.close(ok));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#server = null;
  }

  /**
   * Resolves with the messages matching `filter` (all, by default) once there are at
   * least `n` of them; rejects after `timeoutMs`.
   */
  async waitFor(n, filter = () => true, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.filter(filter);
      if (found.length >= n) return found;
      if (Date.now() > deadline) {
        const got = this.messages.map((m) => `${m.to.join(',')}: ${m.subject}`).join('\n  ');
        throw new Error(`expected ${n} matching email(s) within ${timeoutMs} ms, have ${found.length}; all received:\n  ${got}`);
      }
      await sleep(25);
    }
  }

  #session(socket) {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {}); // a peer that goes away mid-session is not our problem
    socket.setEncoding('latin1'); // bytes in, bytes out: 8BITMIME bodies stay intact
    const reply = (line) => socket.write(`${line}\r\n`, 'latin1');
    let buffered = '';
    let envelope = { from: null, to: [] };
    let data = null; // lines of a message while in DATA

    const command = (line) => {
      const verb = line.split(' ', 1)[0].toUpperCase();
      switch (verb) {
        case 'EHLO': envelope = { from: null, to: [] }; return socket.write('250-x\r\n250 8BITMIME\r\n');
        case 'HELO': envelope = { from: null, to: [] }; return reply('250 x');
        case 'MAIL': envelope = { from: address(line), to: [] }; return reply('250 OK');
        case 'RCPT': envelope.to.push(address(line)); return reply('250 OK');
        case 'RSET': envelope = { from: null, to: [] }; return reply('250 OK');
        case 'NOOP': return reply('250 OK');
        case 'DATA': data = []; return reply('354 End data with <CR><LF>.<CR><LF>');
        case 'QUIT': reply('221 Bye'); return socket.end();
        default: this.unknown.push(line); return reply('502 Command not implemented');
      }
    };

    socket.on('data', (chunk) => {
      buffered += chunk;
      let eol;
      while ((eol = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, eol).replace(/\r$/, '');
        buffered = buffered.slice(eol + 1);
        if (data === null) {
          command(line);
        } else if (line === '.') {
          const raw = Buffer.from(data.join('\r\n'), 'latin1').toString('utf8');
          try {
            this.messages.push(new Mail(envelope.from, envelope.to, raw));
          } catch (err) { // keep it anyway; a test will show what could not be read
            this.messages.push(Object.assign(Object.create(Mail.prototype), {
              from: envelope.from, to: envelope.to, raw, subject: '', text: raw, html: '', parseError: err,
            }));
          }
          envelope = { from: null, to: [] };
          data = null;
          reply('250 OK: queued');
        } else {
          data.push(line.startsWith('.') ? line.slice(1) : line); // undo dot-stuffing
        }
      }
    });
    reply('220 127.0.0.1 ESMTP test');
  }
}

/** The address in `MAIL FROM:<a@b> BODY=8BITMIME` or `RCPT TO:<a@b>`. */
function address(line) {
  return line.match(/<([^>]*)>/)?.[1] ?? line.slice(line.indexOf(':') + 1).trim();
}
