// Registry client overhead: the imagefs RegistryClient versus plain undici requests against the same
// real registry (CNCF distribution 2.8 on loopback), side by side in one run.
//
//   npx tsx bench/registry.ts            (BLOB_MIB=64 READS=500 ROUNDS=5 to change the load)
//
// Prints whole-blob throughput (MB/s) and 4 KiB random range reads per second at concurrency 1 and 8,
// the client/undici ratio of each, and the HTTP requests the client sent per read.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { RegistryClient } from '../src/registry/client.js';
import { pushBlob, startRegistry } from '../src/testing/registry/index.js';
import { seededRandom } from '../src/testing/builder/random.js';

const BLOB_MIB = Number(process.env.BLOB_MIB ?? 64);
const READS = Number(process.env.READS ?? 500);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const READ_SIZE = 4096;

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function pool(n: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await one(next++);
  }));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const reg = await startRegistry();
  try {
    const bytes = new Uint8Array(randomBytes(BLOB_MIB << 20));
    const { digest, size } = await pushBlob(reg, 'bench/blob', bytes);
    const desc = { mediaType: 'application/octet-stream', digest, size };
    const url = `${reg.url}/v2/bench/blob/blobs/${digest}`;
    const agent = new Agent({ connections: 8 });
    const client = new RegistryClient({ authFile: false });
    const blob = client.openBlob(`${reg.host}/bench/blob`, desc);
    const next = seededRandom(42);
    const rnd = (): number => next() / 4294967296;
    const offsets = Array.from({ length: READS }, () => Math.floor(rnd() * (size - READ_SIZE)));

    const plainWhole = async (hash: boolean): Promise<void> => {
      const res = await request(url, { dispatcher: agent });
      // What a careful plain-undici user does: one preallocated buffer, hashing as bytes arrive.
      const h = hash ? createHash('sha256') : undefined;
      const out = Buffer.allocUnsafe(size);
      let n = 0;
      for await (const chunk of res.body) {
        h?.update(chunk as Buffer);
        out.set(chunk as Buffer, n);
        n += (chunk as Buffer).length;
      }
      if (n !== size || (h && `sha256:${h.digest('hex')}` !== digest)) throw new Error('plain undici read the wrong bytes');
    };
    const plainRange = async (offset: number): Promise<void> => {
      const res = await request(url, { dispatcher: agent, headers: { range: `bytes=${offset}-${offset + READ_SIZE - 1}` } });
      const b = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 206 || b.length !== READ_SIZE) throw new Error('plain undici range failed');
    };

    type Side = () => Promise<number>;
    const mb = size / 1e6;
    const rows: Array<{ name: string; unit: string; client: Side; plain: Side; c: number[]; p: number[] }> = [
      {
        name: 'whole blob, sha256 verified', unit: 'MB/s', c: [], p: [],
        client: async () => mb / await timed(async () => { await client.readBlobVerified(`${reg.host}/bench/blob`, desc); }),
        plain: async () => mb / await timed(() => plainWhole(true)),
      },
      {
        name: 'whole blob as one read', unit: 'MB/s', c: [], p: [],
        client: async () => mb / await timed(async () => { await blob.readAt(0, size); }),
        plain: async () => mb / await timed(() => plainWhole(false)),
      },
      {
        name: '4 KiB random reads, 1 at a time', unit: 'reads/s', c: [], p: [],
        client: async () => READS / await timed(() => pool(READS, 1, async (i) => { await blob.readAt(offsets[i]!, READ_SIZE); })),
        plain: async () => READS / await timed(() => pool(READS, 1, (i) => plainRange(offsets[i]!))),
      },
      {
        name: '4 KiB random reads, 8 in flight', unit: 'reads/s', c: [], p: [],
        client: async () => READS / await timed(() => pool(READS, 8, async (i) => { await blob.readAt(offsets[i]!, READ_SIZE); })),
        plain: async () => READS / await timed(() => pool(READS, 8, (i) => plainRange(offsets[i]!))),
      },
    ];
    const before = client.stats.requests;
    let clientReads = 0;
    // Client and plain undici alternate run by run (order flipped each round), so that a load
    // change on the machine hits both sides alike.
    for (const row of rows) {
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 2 === 0) {
          row.c.push(await row.client());
          row.p.push(await row.plain());
        } else {
          row.p.push(await row.plain());
          row.c.push(await row.client());
        }
        clientReads += row.unit === 'MB/s' ? 1 : READS;
      }
    }
    const clientRequests = client.stats.requests - before;
    console.log(`registry client vs plain undici: ${BLOB_MIB} MiB blob, ${READS} reads of ${READ_SIZE} B, ${ROUNDS} rounds (medians), distribution 2.8 on loopback`);
    console.log(`${'measure'.padEnd(44)}${'client'.padStart(12)}${'undici'.padStart(12)}${'ratio'.padStart(8)}`);
    for (const r of rows) {
      const c = median(r.c);
      const p = median(r.p);
      console.log(`${`${r.name} (${r.unit})`.padEnd(44)}${c.toFixed(1).padStart(12)}${p.toFixed(1).padStart(12)}${(c / p).toFixed(2).padStart(8)}`);
    }
    console.log(`client HTTP requests per read: ${(clientRequests / clientReads).toFixed(3)} (${clientRequests} requests for ${clientReads} reads; retries ${client.stats.retries})`);
    await client.close();
    await agent.close();
  } finally {
    await reg.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
