import { Provider } from '@nestjs/common';
import { DirectoryApplier } from './directory-applier';
import { DIRECTORY_OPTIONS, DirectoryOptions } from './directory.options';
import { DirectorySource, FileOrUrlDirectorySource } from './directory-source';
import { DirectoryService } from './directory.service';

/** What a gateway module adds for directory mode (with a DIRECTORY_OPTIONS provider). */
export const DIRECTORY_PROVIDERS: Provider[] = [
  DirectoryApplier,
  {
    provide: DirectorySource,
    inject: [DIRECTORY_OPTIONS],
    useFactory: (o: DirectoryOptions) => new FileOrUrlDirectorySource(o.enabled ? o.source : '(directory mode is off)', (o.enabled && o.fetchTimeoutMs) || 10_000),
  },
  DirectoryService,
];
