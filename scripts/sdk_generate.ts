/**
 * `npm run sdk:generate` (node scripts/sdk_generate.ts [--check]): regenerates
 * the checked-in sources of the TypeScript client packages/client from this
 * tree, with no server running:
 * - src/schema.ts: request and response types of every route, made by
 *   openapi-typescript from the OpenAPI 3.1 document that /v1/openapi.json
 *   serves (built here from the route declarations);
 * - src/error_codes.ts: the error catalogue (code → HTTP status and title), so
 *   KeywardApiError's `code` is the union of the codes the server can answer.
 * With --check, writes nothing and exits 1 when a file is stale (the unit test
 * test/unit/packages/client/generated.test.ts checks the same).
 */
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { format, resolveConfig } from 'prettier';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../services/keyward/src/http/declared_routes.ts';
import { ERROR_CATALOGUE } from '../services/keyward/src/kernel/errors.ts';
import { VERSION } from '../services/keyward/src/version.ts';

const ROOT = new URL('..', import.meta.url);
/** The generated files, relative to the repository root. */
export const SDK_GENERATED_FILES = ['packages/client/src/schema.ts', 'packages/client/src/error_codes.ts'] as const;
export type SdkGeneratedFile = (typeof SDK_GENERATED_FILES)[number];

const NOTE = ' * Regenerate with `npm run sdk:generate` (scripts/sdk_generate.ts); a unit test fails when it is stale.\n';

async function formatted(path: SdkGeneratedFile, text: string): Promise<string> {
  const file = fileURLToPath(new URL(path, ROOT));
  return format(text, { ...(await resolveConfig(file)), filepath: file });
}

/**
 * The text each generated file must have for the routes and the catalogue of this tree.
 *
 * @example
 * const files = await sdkSources();
 * files['packages/client/src/error_codes.ts'] // 'export const ERROR_CATALOGUE = { … } as const; …'
 */
export async function sdkSources(): Promise<Record<SdkGeneratedFile, string>> {
  const doc = openApiDocument(VERSION);
  const ast = await openapiTS(doc as unknown as Parameters<typeof openapiTS>[0], { silent: true, emptyObjectsUnknown: true });
  const schema = COMMENT_HEADER.replace(' */', `${NOTE} */`) + astToString(ast);
  const catalogue = Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, { status: e.status, title: e.title }]));
  const codes = [
    '/**',
    " * Keyward's error catalogue: every `code` a problem+json answer (RFC 9457) can carry, with its HTTP status",
    ' * and title. Codes are added, never renamed; a newer server may answer a code this list does not have yet.',
    ' *',
    ' * This file was generated from services/keyward/src/kernel/errors.ts. Do not make direct changes to the file.',
    NOTE.trimEnd(),
    ' */',
    `export const ERROR_CATALOGUE = ${JSON.stringify(catalogue)} as const;`,
    '',
    '/** A code of the catalogue: `csr.malformed`, `policy.san_not_allowed`, … */',
    'export type ErrorCode = keyof typeof ERROR_CATALOGUE;',
    '',
  ].join('\n');
  return {
    'packages/client/src/schema.ts': await formatted('packages/client/src/schema.ts', schema),
    'packages/client/src/error_codes.ts': await formatted('packages/client/src/error_codes.ts', codes),
  };
}

/** The generated files whose checked-in text differs from what this tree generates. */
export async function staleSdkFiles(): Promise<SdkGeneratedFile[]> {
  const want = await sdkSources();
  const read = (p: string) => {
    try {
      return readFileSync(new URL(p, ROOT), 'utf8');
    } catch {
      return undefined;
    }
  };
  return SDK_GENERATED_FILES.filter((p) => read(p) !== want[p]);
}

if (import.meta.main) {
  if (process.argv.includes('--check')) {
    const stale = await staleSdkFiles();
    for (const p of stale) process.stderr.write(`${p} is stale: run npm run sdk:generate\n`);
    process.exit(stale.length ? 1 : 0);
  }
  const files = await sdkSources();
  for (const [p, text] of Object.entries(files)) {
    writeFileSync(new URL(p, ROOT), text);
    process.stdout.write(`sdk: wrote ${p}\n`);
  }
}
