/* common.tsx - what several console screens show the same way: a state
 * badge (its meaning written, never said by colour alone), the pager of a
 * list read by cursor, and a list's search form that writes its filters in
 * the address bar. */
import type { ComponentChildren } from 'preact';
import { navigate } from '../../shared/router';
import { T } from '../strings.fr';

export type BadgeKind = 'ok' | 'todo' | 'closed';

export function Badge(props: { kind: BadgeKind; children: ComponentChildren }) {
  return <span class={`tag tag-${props.kind}`}>{props.children}</span>;
}

/** The next page of a list (its cursor in the address), and back to the first. */
export function Pager(props: { path: string; query: URLSearchParams; nextCursor: string | null | undefined }) {
  const next = new URLSearchParams(props.query);
  const first = new URLSearchParams(props.query);
  first.delete('curseur');
  if (props.nextCursor) next.set('curseur', props.nextCursor);
  const href = (q: URLSearchParams) => (q.toString() ? `${props.path}?${q}` : props.path);
  if (!props.nextCursor && !props.query.has('curseur')) return null;
  return (
    <nav class="pager" aria-label={T.pager.label}>
      {props.query.has('curseur') && <a href={href(first)}>{T.pager.first}</a>}
      {props.nextCursor && <a class="button button-secondary" href={href(next)}>{T.pager.next}</a>}
    </nav>
  );
}

/** A search form whose values become the page's query (a new history
 * entry, so that Back returns to the previous search). */
export function SearchForm(props: { path: string; values: Record<string, string>; children: ComponentChildren; submit: string }) {
  return (
    <form
      class="filters search-bar"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        const query = new URLSearchParams();
        for (const [name, value] of Object.entries(props.values)) if (value.trim()) query.set(name, value.trim());
        navigate(query.toString() ? `${props.path}?${query}` : props.path);
      }}
    >
      {props.children}
      <div class="button-row">
        <button type="submit" class="button">{props.submit}</button>
      </div>
    </form>
  );
}
