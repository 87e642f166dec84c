// Client-side routing under /console/ (the gateway answers index.html for every page path).
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/console/';

/** The page path after /console/, e.g. `peers/130000`; '' for the start page. */
export const currentPath = (): string => decodeURIComponent(location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '').replace(/\/$/, '');

export function navigate(path: string): void {
  history.pushState(null, '', BASE + path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return path;
}

/** An in-app link: a real <a href> (keyboard, middle-click) that routes without reloading. */
export function onLink(e: MouseEvent, path: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(path);
}
