import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A small authoritative DNS server on 127.0.0.1 (UDP) for the tests: one per test process, started
 * lazily, answering TXT, A and AAAA from records the tests set. A name with no records at all is
 * NXDOMAIN; a known name asked for a type it lacks is an empty NOERROR answer (NODATA). TTLs are 0,
 * so a resolver never caches an answer a test is about to change.
 */

const TYPE_A = 1;
const TYPE_TXT = 16;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

interface Records {
  txt: string[];
  a: string[];
  aaaa: string[];
}

const zone = new Map<string, Records>();
/** Names whose every query answers SERVFAIL (a broken authoritative server). */
const failing = new Set<string>();
let started: Promise<number> | null = null;

function key(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function entry(name: string): Records {
  let r = zone.get(key(name));
  if (!r) {
    r = { txt: [], a: [], aaaa: [] };
    zone.set(key(name), r);
  }
  return r;
}

/** Publishes TXT records at `name` (replacing its TXT records; one record per value). */
export function setTxt(name: string, values: string[]): void {
  entry(name).txt = [...values];
}

/** Makes `name` resolve to these addresses (IPv4 → A, IPv6 → AAAA), replacing its address records. */
export function setA(name: string, addrs: string[]): void {
  const r = entry(name);
  r.a = addrs.filter((a) => isIPv4(a));
  r.aaaa = addrs.filter((a) => isIPv6(a));
  const bad = addrs.filter((a) => !isIPv4(a) && !isIPv6(a));
  if (bad.length) throw new Error(`not IP addresses: ${bad.join(', ')}`);
}

/** Removes every record at `name` (it answers NXDOMAIN again) and stops failing it. */
export function clear(name: string): void {
  zone.delete(key(name));
  failing.delete(key(name));
}

/** Makes every query for `name` answer SERVFAIL until `clear(name)`. */
export function failWith(name: string): void {
  failing.add(key(name));
}

/** The port of this process's DNS server on 127.0.0.1, starting it on first use. */
export function dnsPort(): Promise<number> {
  started ??= new Promise<number>((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.on('message', (msg, rinfo) => answer(sock, msg, rinfo));
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      sock.unref();
      resolve(sock.address().port);
    });
  });
  return started;
}

/** `DNS_SERVERS` for a server that should resolve through the test DNS server. */
export async function dnsServersSetting(): Promise<string> {
  return `127.0.0.1:${await dnsPort()}`;
}

function answer(sock: Socket, msg: Buffer, rinfo: RemoteInfo): void {
  const reply = respond(msg);
  if (reply) sock.send(reply, rinfo.port, rinfo.address);
}

/** The response to one query, or null for a packet that is not a well-formed query (dropped). */
function respond(msg: Buffer): Buffer | null {
  if (msg.length < 12) return null;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return null; // a response, not a query
  const qdcount = msg.readUInt16BE(4);
  const rd = flags & 0x0100;
  if (qdcount !== 1 || ((flags >> 11) & 0xf) !== 0) return header(id, rd, 4 /* NOTIMP */, Buffer.alloc(0), 0);

  // The question: labels (a query carries no compression pointers), then type and class.
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return null;
    const len = msg[off]!;
    if (len === 0) {
      off += 1;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return null;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  const qtype = msg.readUInt16BE(off);
  const qclass = msg.readUInt16BE(off + 2);
  const question = msg.subarray(12, off + 4); // echoed byte for byte (keeps the asker's letter case)

  if (failing.has(key(labels.join('.')))) return header(id, rd, 2 /* SERVFAIL */, question, 0);
  const rec = zone.get(key(labels.join('.')));
  if (!rec || qclass !== CLASS_IN) return header(id, rd, 3 /* NXDOMAIN */, question, 0);

  const rdatas: { type: number; data: Buffer }[] = [];
  if (qtype === TYPE_TXT) for (const v of rec.txt) rdatas.push({ type: TYPE_TXT, data: txtData(v) });
  if (qtype === TYPE_A)
    for (const a of rec.a) rdatas.push({ type: TYPE_A, data: Buffer.from(a.split('.').map(Number)) });
  if (qtype === TYPE_AAAA) for (const a of rec.aaaa) rdatas.push({ type: TYPE_AAAA, data: ipv6Bytes(a) });

  const answers = rdatas.map(({ type, data }) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(0, 6); // TTL 0
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  const out = Buffer.concat([header(id, rd, 0, question, answers.length), ...answers]);
  if (out.length > 512) out.writeUInt16BE(out.readUInt16BE(2) | 0x0200, 2); // TC: we speak no TCP
  return out;
}

function header(id: number, rd: number, rcode: number, question: Buffer, ancount: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | rcode, 2); // QR, AA, RD echoed, RA
  h.writeUInt16BE(question.length ? 1 : 0, 4);
  h.writeUInt16BE(ancount, 6);
  return Buffer.concat([h, question]);
}

/** TXT rdata: the value as character-strings of at most 255 bytes each. */
function txtData(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

function ipv6Bytes(addr: string): Buffer {
  let a = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const [p, q, r, s] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    a = `${a.slice(0, -v4[1]!.length)}${((p << 8) | q).toString(16)}:${((r << 8) | s).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
