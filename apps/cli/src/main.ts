#!/usr/bin/env node
import 'reflect-metadata';
import { DomainException } from '@tongban/common';
import { ConfigError } from '@tongban/config';
import { kidsAsOperands } from './operands';
import { program } from './program';

program.parseAsync(kidsAsOperands(program, process.argv.slice(2)), { from: 'user' }).catch((e: unknown) => {
  if (e instanceof ConfigError) process.stderr.write(`tongban: configuration error: ${e.message}\n`);
  else if (e instanceof DomainException) process.stderr.write(`tongban: ${e.code}: ${e.message}\n`);
  else process.stderr.write(`tongban: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
