/* router.ts - a small client-side router: the address bar is the state
 * (path and query), links inside the app are followed without a reload,
 * the back button works, and every navigation is counted so that the new
 * page can move the focus to its heading (see ui.tsx, Page). */
import { useEffect, useState } from 'preact/hooks';

export interface Place {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
let navigations = 0;
let appPrefixes: string[] = [];

function here(): Place {
  return { path: window.location.pathname.replace(/\/+$/, '') || '/', query: new URLSearchParams(window.location.search) };
}

function notify(): void {
  navigations += 1;
  for (const listener of listeners) listener();
}

/** How many navigations happened since the page was loaded (0: first view). */
export function navigationCount(): number {
  return navigations;
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const current = window.location.pathname + window.location.search;
  if (to === current && !options.replace) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.scrollTo(0, 0);
  notify();
}

/** Changes the query of the current page without a new history entry nor a
 * focus move (filters typed on the same page). */
export function setQuery(query: Record<string, string | undefined>): void {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) search.set(name, value);
  const text = search.toString();
  window.history.replaceState(null, '', window.location.pathname + (text ? `?${text}` : ''));
  for (const listener of listeners) listener();
}

export function usePlace(): Place {
  const [place, setPlace] = useState(here);
  const rendered = window.location.pathname + window.location.search;
  useEffect(() => {
    const update = () => setPlace(here());
    listeners.add(update);
    // A navigation may have happened between the render and this effect.
    if (window.location.pathname + window.location.search !== rendered) update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return place;
}

function onClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest?.('a');
  if (!anchor || anchor.target || anchor.hasAttribute('download') || anchor.origin !== window.location.origin) return;
  if (!appPrefixes.some((prefix) => anchor.pathname === prefix || anchor.pathname.startsWith(`${prefix}/`))) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}

/** Follows the links under these paths inside the app. */
export function startRouter(prefixes: string[]): void {
  appPrefixes = prefixes;
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', notify);
}
