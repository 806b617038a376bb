import type { Command } from '../command.ts';
import { bootstrap } from './bootstrap.ts';
import { config } from './config.ts';
import { dev } from './dev.ts';
import { migrate } from './migrate.ts';
import { serve } from './serve.ts';

export const commands: readonly Command[] = [serve, bootstrap, migrate, config, dev];
