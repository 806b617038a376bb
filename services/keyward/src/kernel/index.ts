export * from './errors.ts';
export * from './config.ts';
export * from './log.ts';
export * from './clock.ts';
export * from './ids.ts';
export * from './page.ts';
