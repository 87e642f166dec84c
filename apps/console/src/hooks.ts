import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads `fetcher()` now, again on `reload()` and every `everyMs` (0 = never). */
export function useLoad<T>(fetcher: (signal: AbortSignal) => Promise<T>, deps: unknown[], everyMs = 0): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fetcher(ctl.signal).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (ctl.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  useEffect(() => {
    if (!everyMs) return;
    const id = setInterval(reload, everyMs);
    return () => clearInterval(id);
  }, [everyMs, reload]);
  return { data, error, loading, reload };
}

/** Runs an action, keeping its pending state, its error and a success note for the page. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [note, setNote] = useState<string>();
  const run = useCallback(async (fn: () => Promise<unknown>, success?: string) => {
    setBusy(true);
    setError(undefined);
    setNote(undefined);
    try {
      await fn();
      setNote(success);
      return true;
    } catch (e) {
      setError(e as Error);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, note, run, clear: () => (setError(undefined), setNote(undefined)) };
}
