import { createSocket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A DNS server on loopback that answers A and AAAA questions from a table the test changes at will
 * (a name that starts resolving elsewhere: DNS rebinding). Causerie uses it through
 * CAUSERIE_DNS_SERVERS, so names resolve to any address without touching /etc/hosts. Unknown
 * names get NXDOMAIN; a known name without an address of the asked family gets an empty answer.
 */
export interface TestDnsServer {
  /** "127.0.0.1:<port>", what CAUSERIE_DNS_SERVERS takes. */
  address: string;
  /** Name (lower case, no trailing dot) → its addresses, IPv4 and IPv6 mixed. */
  records: Map<string, string[]>;
  /** Questions asked so far, as "A name" or "AAAA name". */
  questions: string[];
  close(): Promise<void>;
}

const typeA = 1;
const typeAAAA = 28;

function readName(message: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  while (offset < message.length && message[offset]! > 0) {
    const length = message[offset]!;
    labels.push(message.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += 1 + length;
  }
  return { name: labels.join('.').toLowerCase(), end: offset + 1 };
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const h = groups(head);
  const t = address.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

export async function startDnsServer(records: Record<string, string[]> = {}): Promise<TestDnsServer> {
  const table = new Map(Object.entries(records));
  const questions: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (query.length < 12) return;
    const { name, end } = readName(query, 12);
    const type = query.readUInt16BE(end);
    questions.push(`${type === typeAAAA ? 'AAAA' : type === typeA ? 'A' : type} ${name}`);
    const known = table.get(name);
    const addresses = (known ?? []).filter((a) => (type === typeA ? isIPv4(a) : type === typeAAAA && isIPv6(a)));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // a response, recursion available; NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const answers = addresses.map((address) => {
      const data = type === typeA ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
      const record = Buffer.alloc(12);
      record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      record.writeUInt16BE(type, 2);
      record.writeUInt16BE(1, 4); // class IN
      record.writeUInt32BE(0, 6); // TTL 0: never cached
      record.writeUInt16BE(data.length, 10);
      return Buffer.concat([record, data]);
    });
    socket.send(Buffer.concat([header, query.subarray(12, end + 4), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    records: table,
    questions,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
