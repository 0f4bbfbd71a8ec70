/**
 * `node bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top 25] [--paths 3]`: what
 * grew between two V8 heap snapshots of one process (`SOAK_HEAP_SNAPSHOTS=dir npm run soak` writes
 * them). Sums self size and count by kind and constructor (strings by kind), prints the largest
 * growers, then for the top few the retainer path of some objects that are new in the second
 * snapshot (node ids are stable within a process), nearest the roots: who holds them.
 *
 * Snapshots of a large heap exceed what one JSON.parse takes, so the number arrays are scanned
 * straight from the bytes.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  nodeFields: string[];
  edgeFields: string[];
  nodeTypes: string[];
  edgeTypes: string[];
  nodes: Float64Array;
  edges: Float64Array;
  strings: string[];
}

function numbersAfter(buffer: Buffer, key: string): Float64Array {
  const start = buffer.indexOf(`"${key}":[`);
  if (start < 0) throw new Error(`no ${key} in the snapshot`);
  let position = start + key.length + 4;
  const values: number[] = [];
  let current = 0;
  let inNumber = false;
  for (; position < buffer.length; position++) {
    const byte = buffer[position]!;
    if (byte >= 48 && byte <= 57) {
      current = current * 10 + (byte - 48);
      inNumber = true;
    } else {
      if (inNumber) values.push(current);
      current = 0;
      inNumber = false;
      if (byte === 93) break; // ]
    }
  }
  return Float64Array.from(values);
}

export function readSnapshot(path: string): Snapshot {
  const buffer = readFileSync(path);
  const head = buffer.subarray(0, buffer.indexOf('"nodes":[')).toString('utf8');
  const meta = JSON.parse(`${head.slice(head.indexOf('{', 1), head.lastIndexOf('}') + 1)}`).meta;
  const stringsAt = buffer.lastIndexOf('"strings":[');
  const strings = JSON.parse(buffer.subarray(stringsAt + 10, buffer.lastIndexOf(']') + 1).toString('utf8'));
  return {
    nodeFields: meta.node_fields,
    edgeFields: meta.edge_fields,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    nodes: numbersAfter(buffer, 'nodes'),
    edges: numbersAfter(buffer, 'edges'),
    strings,
  };
}

interface Group {
  count: number;
  size: number;
}

/** The group of a node: its kind, and for objects, closures and native objects its name. */
function groupOf(snapshot: Snapshot, index: number, width: number): string {
  const type = snapshot.nodeTypes[snapshot.nodes[index * width]!]!;
  const name = snapshot.strings[snapshot.nodes[index * width + 1]!]!;
  if (type === 'object' || type === 'native' || type === 'closure' || type === 'hidden')
    return `${type} ${name.slice(0, 60)}`;
  if (type === 'array' || type === 'code' || type === 'object shape') return `${type} ${name.slice(0, 40)}`;
  return type;
}

function summarise(snapshot: Snapshot): { groups: Map<string, Group>; ids: Set<number> } {
  const width = snapshot.nodeFields.length;
  const sizeField = snapshot.nodeFields.indexOf('self_size');
  const idField = snapshot.nodeFields.indexOf('id');
  const groups = new Map<string, Group>();
  const ids = new Set<number>();
  const count = snapshot.nodes.length / width;
  for (let i = 0; i < count; i++) {
    const key = groupOf(snapshot, i, width);
    const group = groups.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += snapshot.nodes[i * width + sizeField]!;
    groups.set(key, group);
    ids.add(snapshot.nodes[i * width + idField]!);
  }
  return { groups, ids };
}

/** For each node, the retainer nearest the roots (breadth first from node 0 over strong edges) and that edge. */
function nearestRetainers(snapshot: Snapshot): { parent: Int32Array; via: Int32Array } {
  const width = snapshot.nodeFields.length;
  const edgeWidth = snapshot.edgeFields.length;
  const edgeCountField = snapshot.nodeFields.indexOf('edge_count');
  const typeField = snapshot.edgeFields.indexOf('type');
  const toField = snapshot.edgeFields.indexOf('to_node');
  const weak = snapshot.edgeTypes.indexOf('weak');
  const count = snapshot.nodes.length / width;
  const firstEdge = new Int32Array(count + 1);
  for (let i = 0; i < count; i++)
    firstEdge[i + 1] = firstEdge[i]! + snapshot.nodes[i * width + edgeCountField]! * edgeWidth;
  const parent = new Int32Array(count).fill(-1);
  const via = new Int32Array(count).fill(-1);
  parent[0] = 0;
  let frontier = [0];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const node of frontier) {
      for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += edgeWidth) {
        if (snapshot.edges[e + typeField] === weak) continue;
        const to = snapshot.edges[e + toField]! / width;
        if (parent[to] !== -1) continue;
        parent[to] = node;
        via[to] = e;
        next.push(to);
      }
    }
    frontier = next;
  }
  return { parent, via };
}

function edgeName(snapshot: Snapshot, edge: number): string {
  const type = snapshot.edgeTypes[snapshot.edges[edge]!]!;
  const name = snapshot.edges[edge + 1]!;
  return type === 'element' || type === 'hidden' ? `[${name}]` : `.${snapshot.strings[name]!.slice(0, 30)}`;
}

function describe(snapshot: Snapshot, index: number): string {
  const width = snapshot.nodeFields.length;
  const type = snapshot.nodeTypes[snapshot.nodes[index * width]!]!;
  const name = snapshot.strings[snapshot.nodes[index * width + 1]!]!.replace(/\s+/g, ' ').slice(0, 50);
  return `${type}:${name}`;
}

function main() {
  const args = process.argv.slice(2);
  const option = (flag: string, fallback: number) => {
    const at = args.indexOf(flag);
    return at < 0 ? fallback : Number(args[at + 1]);
  };
  const files = args.filter((arg, i) => !arg.startsWith('--') && !args[i - 1]?.startsWith('--'));
  if (files.length !== 2) {
    console.error('usage: node bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top 25] [--paths 3]');
    process.exit(2);
  }
  const top = option('--top', 25);
  const pathsFor = option('--paths', 3);
  const before = summarise(readSnapshot(files[0]!));
  const afterSnapshot = readSnapshot(files[1]!);
  const after = summarise(afterSnapshot);
  const rows = [...after.groups].map(([key, group]) => {
    const old = before.groups.get(key) ?? { count: 0, size: 0 };
    return { key, count: group.count - old.count, size: group.size - old.size, total: group.size };
  });
  const total = (groups: Map<string, Group>) => [...groups.values()].reduce((sum, g) => sum + g.size, 0);
  const mib = (bytes: number) => (bytes / 1048576).toFixed(2);
  console.log(`self size: ${mib(total(before.groups))} → ${mib(total(after.groups))} MiB`);
  console.log(`${'grew (MiB)'.padStart(10)} ${'count'.padStart(9)} ${'now (MiB)'.padStart(10)}  group`);
  const growers = rows.sort((a, b) => b.size - a.size).slice(0, top);
  for (const row of growers)
    console.log(
      `${mib(row.size).padStart(10)} ${String(row.count).padStart(9)} ${mib(row.total).padStart(10)}  ${row.key}`,
    );
  if (pathsFor <= 0) return;
  const { parent, via } = nearestRetainers(afterSnapshot);
  const width = afterSnapshot.nodeFields.length;
  const idField = afterSnapshot.nodeFields.indexOf('id');
  const count = afterSnapshot.nodes.length / width;
  for (const row of growers.slice(0, pathsFor)) {
    console.log(`\nretained by (${row.key}, new objects):`);
    const candidates: number[] = [];
    for (let i = 0; i < count; i++) {
      if (groupOf(afterSnapshot, i, width) !== row.key) continue;
      if (!before.ids.has(afterSnapshot.nodes[i * width + idField]!)) candidates.push(i);
    }
    // Three samples spread over the new ones.
    for (const pick of [0, 0.5, 0.9]) {
      const start = candidates[Math.floor(pick * (candidates.length - 1))];
      if (start === undefined) break;
      const path: string[] = [];
      for (let node = start, depth = 0; node > 0 && depth < 16 && parent[node]! >= 0; node = parent[node]!, depth++)
        path.push(
          `${describe(afterSnapshot, node)}${via[node]! >= 0 ? ` ←${edgeName(afterSnapshot, via[node]!)}` : ''}`,
        );
      console.log(`  ${path.join(' ')}`);
    }
  }
}

if (import.meta.main) main();
