import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { components, ErrorCode, KeywardApiError, KeywardErrorCode } from '@keyward/client';
import { ERROR_CATALOGUE as CLIENT_CATALOGUE } from '@keyward/client';
import { SDK_GENERATED_FILES, sdkSources } from '../../../../scripts/sdk_generate.ts';
import { DECLARED_ROUTE_FACTORIES, declaredRoutes } from '../../../../services/keyward/src/http/declared_routes.ts';
import { ERROR_CATALOGUE, type ErrorCode as ServerErrorCode } from '../../../../services/keyward/src/kernel/errors.ts';

/** True when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('@keyward/client generated sources', function () {
  this.timeout(60_000);

  it('are what the OpenAPI document and the error catalogue of this tree generate (else run npm run sdk:generate)', async () => {
    const want = await sdkSources();
    for (const path of SDK_GENERATED_FILES) {
      const have = readFileSync(new URL(`../../../../${path}`, import.meta.url), 'utf8');
      if (have !== want[path]) {
        const lines = [have.split('\n'), want[path].split('\n')] as const;
        const at = lines[1].findIndex((line, i) => line !== lines[0][i]);
        expect.fail(
          `${path} is stale: run npm run sdk:generate and commit the result ` +
            `(first difference at line ${at + 1}: have ${JSON.stringify(lines[0][at])}, want ${JSON.stringify(lines[1][at])})`,
        );
      }
    }
  });

  it("types KeywardApiError's code as the catalogue's codes plus the client's own, and the problem schema's code as the catalogue", () => {
    // The server's union is compared at run time below: a stale copy fails there with the remedy, not in tsc.
    const sameAsSchema: Equal<ErrorCode, components['schemas']['Problem']['code']> = true;
    const errorCode: Equal<KeywardApiError['code'], KeywardErrorCode> = true;
    const notString: Equal<KeywardApiError['code'], string> = false;
    expect([sameAsSchema, errorCode, notString]).to.deep.equal([true, true, false]);
    const server: readonly ServerErrorCode[] = Object.keys(ERROR_CATALOGUE) as ServerErrorCode[];
    expect(CLIENT_CATALOGUE, 'packages/client/src/error_codes.ts is stale: run npm run sdk:generate').to.deep.equal(
      Object.fromEntries(server.map((code) => [code, { status: ERROR_CATALOGUE[code].status, title: ERROR_CATALOGUE[code].title }])),
    );
  });

  it('builds the document from every route list compose.ts mounts', () => {
    const compose = readFileSync(new URL('../../../../services/keyward/src/compose.ts', import.meta.url), 'utf8');
    const mounted = [...compose.matchAll(/\.\.\.(\w+Routes)\(/g)].map((m) => m[1]);
    expect(
      [...DECLARED_ROUTE_FACTORIES].sort(),
      'a route list mounted by compose.ts is missing from http/declared_routes.ts (add it there, then run npm run sdk:generate)',
    ).to.deep.equal(mounted.sort());
    const routes = declaredRoutes('test').map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(routes).to.include.members(['GET /v1/realms/:realm/policies', 'POST /v1/realms/:realm/certificates']);
  });
});
