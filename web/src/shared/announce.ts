/* announce.ts - one polite live region per page: what an action did is said
 * to screen-reader users as well as shown (the region is in the layout). */
const listeners = new Set<(text: string) => void>();

export function announce(text: string): void {
  for (const listener of listeners) listener(text);
}

export function onAnnounce(listener: (text: string) => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
