import { mkdtempSync, writeFileSync } from 'node:fs';
import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileOrUrlDirectorySource } from './directory-source';

describe('FileOrUrlDirectorySource', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return void res.end('a.b.c\n');
      if (req.url === '/big') return void res.end('x'.repeat(5000));
      if (req.url === '/hang') return; // never answers
      res.statusCode = 404;
      res.end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('fetches a URL, bounded in status, size and time', async () => {
    expect(await new FileOrUrlDirectorySource(`${base}/ok`).read()).toBe('a.b.c\n');
    await expect(new FileOrUrlDirectorySource(`${base}/missing`).read()).rejects.toThrow('HTTP 404');
    await expect(new FileOrUrlDirectorySource(`${base}/big`, 1000, 1024).read()).rejects.toThrow('larger than 1024 bytes');
    await expect(new FileOrUrlDirectorySource(`${base}/hang`, 200).read()).rejects.toThrow('no answer within 200 ms');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(new FileOrUrlDirectorySource(`http://127.0.0.1:${port}/x`).read()).rejects.toThrow('ECONNREFUSED');
  });

  it('reads a file, bounded in size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tongban-dir-source-'));
    writeFileSync(join(dir, 'd.jws'), 'a.b.c');
    writeFileSync(join(dir, 'big.jws'), 'x'.repeat(5000));
    expect(await new FileOrUrlDirectorySource(join(dir, 'd.jws')).read()).toBe('a.b.c');
    await expect(new FileOrUrlDirectorySource(join(dir, 'big.jws'), 1000, 1024).read()).rejects.toThrow('larger than 1024 bytes');
    await expect(new FileOrUrlDirectorySource(join(dir, 'none.jws')).read()).rejects.toThrow('ENOENT');
  });
});
