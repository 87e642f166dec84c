import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditCheckpointEntity, AuditEventEntity, AuditLog } from '@tongban/audit';
import { SystemClock } from '@tongban/common';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { ApiClientEntity } from './api-client.entity';
import { ClientRegistry } from './client-registry.service';

// A client disabled by an administrator must stop being accepted even when the reload that follows
// the write fails once: the registry tries the reload again by itself (RetriedReload).
describeEachDatabase('ClientRegistry reloads', (fresh) => {
  let ds: DataSource;
  let clients: ClientRegistry;

  beforeEach(async () => {
    Logger.overrideLogger(['error']);
    ds = await openDatabase(buildDataSource(fresh(), [AuditEventEntity, AuditCheckpointEntity, ApiClientEntity]));
    const clock = new SystemClock();
    clients = new ClientRegistry(ds, clock, new AuditLog(ds, clock), { systems: [], adminToken: 'admin-token-0123456789abcdef-0123' });
    await clients.refresh();
  });

  afterEach(async () => {
    clients.onModuleDestroy();
    await ds.destroy();
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
  });

  it('a disabled client is refused once the reload after a failed one succeeds; the administrator is told of the failure', async () => {
    const { id, token } = await clients.create({ kind: 'SYSTEM', name: 'hall', scopes: ['verify'] }, 'admin');
    expect(clients.authenticate(token)?.name).toBe('hall');
    const repo = ds.getRepository(ApiClientEntity);
    const find = repo.find.bind(repo);
    let retried!: () => void;
    const reloadedAgain = new Promise<void>((resolve) => (retried = resolve));
    const spy = jest
      .spyOn(repo, 'find')
      .mockImplementationOnce(() => Promise.reject(new Error('SQLITE_IOERR: disk I/O error')))
      .mockImplementationOnce(async (...args) => {
        const rows = await find(...args);
        setImmediate(retried); // after the registry has taken the rows
        return rows;
      });
    try {
      await expect(clients.disable(id, 'admin')).rejects.toThrow('disk I/O error');
      expect(clients.authenticate(token)?.name).toBe('hall'); // the snapshot is behind the committed change
      await reloadedAgain;
      expect(clients.authenticate(token)).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
  });
});
