import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  cachedToken,
  createKeywardClient,
  isKeywardApiError,
  KeywardApiError,
  type FetchLike,
  type KeywardErrorCode,
} from '@keyward/client';

/** A fetch that records the requests and answers each with the next of `answers`. */
function recording(...answers: (() => Response)[]) {
  const seen: Request[] = [];
  const fetch: FetchLike = async (r) => {
    seen.push(r);
    const next = answers.shift();
    if (!next) throw new Error('no answer left');
    return next();
  };
  return { seen, fetch };
}

const json = (status: number, body: unknown, type = 'application/json') =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });

const problem = {
  type: 'https://keyward.dev/errors/csr.malformed',
  title: 'The CSR is malformed',
  status: 400,
  code: 'csr.malformed',
  detail: 'the CSR is not PEM or DER',
};

async function rejection(p: Promise<unknown>): Promise<KeywardApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(KeywardApiError);
    return err as KeywardApiError;
  }
  return expect.fail('the call succeeded');
}

describe('@keyward/client', () => {
  it('sends the path with its parameters, Accept: application/json and the bearer token, and returns the data', async () => {
    const { seen, fetch } = recording(() => json(200, { items: [{ name: 'web' }] }));
    const kw = createKeywardClient({ baseUrl: 'https://keyward.example/', token: 'tok-1', fetch });
    const { data, response } = await kw.GET('/v1/realms/{realm}/policies', { params: { path: { realm: 'a b' } } });
    expect(response.status).to.equal(200);
    expect(data).to.deep.equal({ items: [{ name: 'web' }] });
    expect(seen[0]!.url).to.equal('https://keyward.example/v1/realms/a%20b/policies');
    expect(seen[0]!.headers.get('authorization')).to.equal('Bearer tok-1');
    expect(seen[0]!.headers.get('accept')).to.equal('application/json');
  });

  it('sends a JSON body and the typed Idempotency-Key header', async () => {
    const { seen, fetch } = recording(() => json(201, { serialNumber: '0a' }));
    const kw = createKeywardClient({ baseUrl: 'https://keyward.example', fetch });
    const { data } = await kw.POST('/v1/realms/{realm}/certificates', {
      params: { path: { realm: 'acme' }, header: { 'Idempotency-Key': 'k-1' } },
      body: { csr: 'PEM', validity: 'PT1H' },
    });
    expect(data).to.deep.equal({ serialNumber: '0a' });
    expect(seen[0]!.method).to.equal('POST');
    expect(seen[0]!.headers.get('content-type')).to.equal('application/json');
    expect(seen[0]!.headers.get('idempotency-key')).to.equal('k-1');
    expect(seen[0]!.headers.has('authorization')).to.equal(false);
    expect(await seen[0]!.json()).to.deep.equal({ csr: 'PEM', validity: 'PT1H' });
  });

  it('throws a problem+json answer as KeywardApiError with status, typed code, detail and the body', async () => {
    const { fetch } = recording(() => json(400, problem, 'application/problem+json'));
    const kw = createKeywardClient({ baseUrl: 'https://keyward.example', fetch });
    const err = await rejection(kw.POST('/v1/realms/{realm}/certificates', { params: { path: { realm: 'acme' } }, body: { csr: 'x' } }));
    expect({ status: err.status, code: err.code, detail: err.detail, message: err.message }).to.deep.equal({
      status: 400,
      code: 'csr.malformed',
      detail: 'the CSR is not PEM or DER',
      message: 'the CSR is not PEM or DER [csr.malformed]',
    });
    expect(err.body).to.deep.equal(problem);
    expect(err.problem?.title).to.equal('The CSR is malformed');
    expect(isKeywardApiError(err, 'csr.malformed', 'csr.bad_signature')).to.equal(true);
    expect(isKeywardApiError(err, 'policy.san_not_allowed')).to.equal(false);
    // @ts-expect-error the code is the catalogue's union: a string outside it does not compile
    const outside: KeywardErrorCode = 'csr.not_a_code';
    expect(outside).to.be.a('string');
  });

  it('makes a renewing token provider forget its token after a 401, so the next call gets a new one', async () => {
    let issued = 0;
    const token = cachedToken(async () => ({ accessToken: `token-${++issued}`, expiresInSeconds: 300 }));
    const unauthorized = { ...problem, status: 401, code: 'auth.invalid_token', title: 'The access token is invalid' };
    const { seen, fetch } = recording(
      () => json(200, {}),
      () => json(401, unauthorized, 'application/problem+json'),
      () => json(200, {}),
    );
    const kw = createKeywardClient({ baseUrl: 'https://keyward.example', token, fetch });
    await kw.GET('/v1/whoami');
    expect((await rejection(kw.GET('/v1/whoami'))).code).to.equal('auth.invalid_token');
    await kw.GET('/v1/whoami');
    expect(seen.map((r) => r.headers.get('authorization'))).to.deep.equal(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
  });

  it('throws an error status without problem details (a proxy page) as client.unexpected_response, keeping the text', async () => {
    const { fetch } = recording(() => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }));
    const kw = createKeywardClient({ baseUrl: 'https://keyward.example', fetch });
    const err = await rejection(kw.GET('/v1/whoami'));
    expect([err.status, err.code, err.body]).to.deep.equal([502, 'client.unexpected_response', '<html>Bad gateway</html>']);
    expect(err.detail).to.contain('HTTP 502').and.contain('text/html');
  });

  it('throws a success that is not JSON as client.unexpected_response', async () => {
    const { fetch } = recording(
      () => new Response('-----BEGIN CERTIFICATE-----', { status: 200, headers: { 'content-type': 'text/plain' } }),
    );
    const kw = createKeywardClient({ baseUrl: 'https://keyward.example', fetch });
    const err = await rejection(kw.GET('/v1/whoami'));
    expect([err.status, err.code]).to.deep.equal([200, 'client.unexpected_response']);
  });

  it('wraps a refused connection as client.unreachable with the network error as cause', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const kw = createKeywardClient({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await rejection(kw.GET('/v1/whoami'));
    expect([err.status, err.code]).to.deep.equal([0, 'client.unreachable']);
    expect(err.detail).to.equal(`cannot reach Keyward at http://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port})`);
    expect(err.cause).to.be.instanceOf(TypeError);
  });

  describe('with a server that does not answer', () => {
    let server: Server;
    let url: string;
    before(async () => {
      server = createServer(() => undefined);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('gives up after timeoutMs with client.timeout', async () => {
      const kw = createKeywardClient({ baseUrl: url, timeoutMs: 200 });
      const started = Date.now();
      const err = await rejection(kw.GET('/v1/whoami'));
      expect([err.status, err.code, err.detail]).to.deep.equal([0, 'client.timeout', `no answer from Keyward at ${url} within 200 ms`]);
      expect(Date.now() - started).to.be.within(150, 5000);
    });

    it("leaves the caller's own abort alone", async () => {
      const kw = createKeywardClient({ baseUrl: url });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const err: unknown = await kw.GET('/v1/whoami', { signal: controller.signal }).catch((e: unknown) => e);
      expect(err).to.not.be.instanceOf(KeywardApiError);
      expect((err as Error).name).to.equal('AbortError');
    });
  });

  it('refuses what is misuse with TypeError: a base URL that is not http(s), a timeout that is not positive', () => {
    expect(() => createKeywardClient({ baseUrl: 'ftp://keyward.example' })).to.throw(TypeError, /not an http\(s\) URL/);
    expect(() => createKeywardClient({ baseUrl: 'https://keyward.example', timeoutMs: 0 })).to.throw(TypeError, /timeoutMs/);
  });
});
