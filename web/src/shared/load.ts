/* load.ts - what a screen reads from the API: its value, its error, whether
 * it is loading, and how to read it again (after a change, or "Réessayer"). */
import { useEffect, useState } from 'preact/hooks';
import { asApiError, type ApiError } from './api';

/** Loads something for a screen: its value, its error, and how to load again. */
export function useLoad<V>(load: () => Promise<V>, deps: unknown[]): {
  value: V | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => Promise<void>;
  setValue: (value: V) => void;
} {
  const [value, setValue] = useState<V | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  async function reload(): Promise<void> {
    setGeneration((g) => g + 1);
  }
  useEffect(() => {
    let current = true;
    setLoading(true);
    load().then(
      (v) => {
        if (!current) return;
        setValue(v);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (!current) return;
        setError(asApiError(e));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]);
  return { value, error, loading, reload, setValue };
}

