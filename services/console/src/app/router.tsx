/**
 * A small client-side router over the History API: paths live under
 * /console/, Keyward answers index.html for each of them, so every page has a
 * URL that can be bookmarked and reloaded.
 */
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

export const BASE = '/console';

/** A path already under /console (not a realm that merely starts with "console", such as /console-test/…). */
const underBase = (to: string) => to === BASE || to.startsWith(`${BASE}/`) || to.startsWith(`${BASE}?`);

type Listener = () => void;
const listeners = new Set<Listener>();

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = underBase(to) ? to : `${BASE}${to.startsWith('/') ? '' : '/'}${to}`;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export interface Location {
  /** The path below /console, always starting with '/'. */
  readonly path: string;
  readonly query: URLSearchParams;
}

function current(): Location {
  const raw = underBase(window.location.pathname) ? window.location.pathname.slice(BASE.length) : window.location.pathname;
  return { path: raw === '' ? '/' : raw, query: new URLSearchParams(window.location.search) };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return loc;
}

/** Matches `certificates/:serial` against `certificates/0a1b`; undefined when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const part = p[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(s[i]!);
    else if (part !== s[i]) return undefined;
  }
  return params;
}

/** A link inside the console: a real href (open in a new tab works), client-side navigation on a plain click. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; children: ReactNode }) {
  const { to, onClick, ...rest } = props;
  const href = underBase(to) ? to : `${BASE}${to.startsWith('/') ? '' : '/'}${to}`;
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a {...rest} href={href} onClick={click} />;
}
