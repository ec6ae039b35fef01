/**
 * A tiny authoritative DNS server on loopback UDP that answers TXT queries from a map, for domain verification tests.
 * Message format: RFC 1035 §4.1, https://www.rfc-editor.org/rfc/rfc1035#section-4.1 (header, question, answer RRs);
 * TXT RDATA is character-strings of at most 255 bytes (§3.3.14). Unknown names are NXDOMAIN; names in `servfail`
 * get SERVFAIL.
 */
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import type { AddressInfo } from 'node:net';

const TYPE_TXT = 16;
const CLASS_IN = 1;

export interface TestDnsServer {
  port: number;
  /** Lowercase owner name → TXT records (each record's value; values over 255 bytes are split into strings). */
  txt: Map<string, string[]>;
  servfail: Set<string>;
  /** Names asked, in order. */
  queries: string[];
  /** A resolver that asks only this server. */
  resolver(): dns.Resolver;
  close(): Promise<void>;
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i] !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return { name: labels.join('.'), end: i + 1 };
}

function characterStrings(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(parts);
}

function answer(query: Buffer, server: TestDnsServer): Buffer {
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const key = name.toLowerCase();
  server.queries.push(key);
  const records = server.txt.get(key);
  const rcode = server.servfail.has(key) ? 2 : records === undefined ? 3 : 0;
  const answers = rcode === 0 && qtype === TYPE_TXT ? records! : [];
  const rrs = answers.map((value) => {
    const rdata = characterStrings(value);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(TYPE_TXT, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(0, 6); // TTL 0: nothing is cached between checks
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR=1, opcode 0, AA=1, RD copied, RA=1, RCODE.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rrs.length, 6);
  return Buffer.concat([header, question, ...rrs]);
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  const server: TestDnsServer = {
    port: 0,
    txt: new Map(),
    servfail: new Set(),
    queries: [],
    resolver() {
      const r = new dns.Resolver({ timeout: 1_000, tries: 1 });
      r.setServers([`127.0.0.1:${server.port}`]);
      return r;
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    try {
      socket.send(answer(msg, server), rinfo.port, rinfo.address);
    } catch {
      // A malformed query gets no answer, as from a real server.
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.port = (socket.address() as AddressInfo).port;
  return server;
}
