/**
 * A minimal browser for Keycloak's own login pages: follows redirects, keeps
 * cookies, submits the login form. Used to approve a device authorization as
 * a person would, against the real server.
 */
export async function approveDeviceLogin(verificationUrl: string, username: string, password: string): Promise<string> {
  const jar = new Map<string, string>();
  const remember = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const go = async (url: string, init: RequestInit = {}): Promise<{ url: string; html: string }> => {
    let current = url;
    let options: RequestInit = init;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(current, {
        ...options,
        redirect: 'manual',
        headers: { ...(options.headers as Record<string, string>), cookie: cookie() },
      });
      remember(res);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        current = new URL(location, current).toString();
        options = {};
        continue;
      }
      return { url: current, html: await res.text() };
    }
    throw new Error('too many redirects');
  };
  const formAction = (page: { url: string; html: string }) => {
    const m = /<form[^>]*action="([^"]+)"/.exec(page.html);
    if (!m) throw new Error(`no form on ${page.url}: ${page.html.replace(/\s+/g, ' ').slice(0, 400)}`);
    return new URL(m[1]!.replace(/&amp;/g, '&'), page.url).toString();
  };
  let page = await go(verificationUrl);
  page = await go(formAction(page), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, credentialId: '' }).toString(),
  });
  if (/name="accept"|id="kc-login"[^>]*value="Yes"/i.test(page.html) && /consent|grant/i.test(page.html)) {
    page = await go(formAction(page), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'accept=Yes',
    });
  }
  return page.html;
}
