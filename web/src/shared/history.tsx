/* history.tsx - a history read from one of the API's `.../history`
 * endpoints, newest first, as a list of dated French sentences
 * (history.fr.ts), with "older" paging by the API's cursor. Shared by the
 * partner space (its own structure) and the back-office console (a partner,
 * a pass). */
import { useEffect, useState } from 'preact/hooks';
import './history.css';
import { asApiError, call, type Answer, type ApiError } from './api';
import { formatDateTime } from './format';
import { H, historyRefs, historySentence, type HistoryEntry } from './history.fr';
import { LoadError, Loading } from './ui';

/** The three histories of the API, all answering a HistoryPage. */
export type HistoryPath = '/api/v1/partner/history' | '/api/v1/partners/{partner_id}/history' | '/api/v1/passes/{pass_id}/history';
type HistoryAnswer = Answer<HistoryPath, 'get'>;

const PAGE_LIMIT = 50;

/** Reads a history page by page; `params` fills the path's `{...}`. */
function useHistory(path: HistoryPath, params: Record<string, string> | undefined) {
  const [entries, setEntries] = useState<HistoryEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  async function load(after: string | null, append: boolean, isCurrent: () => boolean) {
    setLoading(true);
    try {
      const answer: HistoryAnswer = await call('get', path, { params, query: { limit: PAGE_LIMIT, cursor: after ?? undefined } });
      if (!isCurrent()) return;
      setEntries((old) => (append ? [...old, ...answer.entries] : answer.entries));
      setCursor(answer.next_cursor);
      setError(null);
    } catch (e) {
      if (isCurrent()) setError(asApiError(e));
    } finally {
      if (isCurrent()) setLoading(false);
    }
  }
  const key = `${path}|${JSON.stringify(params ?? {})}`;
  useEffect(() => {
    let current = true;
    setEntries([]);
    setCursor(null);
    void load(null, false, () => current);
    return () => {
      current = false;
    };
  }, [key, generation]);
  return {
    entries,
    cursor,
    loading,
    error,
    more: () => void load(cursor, true, () => true),
    reload: () => setGeneration((g) => g + 1),
  };
}

export function HistoryList(props: {
  path: HistoryPath;
  params?: Record<string, string>;
  /** The partner space does not name the beneficiaries who paid. */
  hideBeneficiaryName?: boolean;
  caption: string;
}) {
  const history = useHistory(props.path, props.params);
  if (history.error && history.entries.length === 0) return <LoadError error={history.error} retry={history.reload} />;
  if (history.loading && history.entries.length === 0) return <Loading />;
  if (history.entries.length === 0) return <p>{H.none}</p>;
  return (
    <section aria-label={props.caption}>
      <p class="muted" role="status">
        {H.count(history.entries.length)}
      </p>
      <ol class="history" data-testid="history">
        {history.entries.map((entry) => {
          const refs = historyRefs(entry);
          return (
            <li key={entry.event_id} data-action={entry.action}>
              <time dateTime={entry.occurred_at} class="history-when">
                {formatDateTime(entry.occurred_at)}
              </time>
              <span class="history-what">{historySentence(entry, { hideBeneficiaryName: props.hideBeneficiaryName })}</span>
              {refs.length > 0 && <span class="history-refs">{refs.join(' · ')}</span>}
            </li>
          );
        })}
      </ol>
      {history.error && <LoadError error={history.error} retry={history.more} />}
      {history.cursor ? (
        <div class="pager">
          <button type="button" class="button button-secondary" disabled={history.loading} onClick={history.more}>
            {history.loading ? H.loadingMore : H.more}
          </button>
        </div>
      ) : (
        <p class="muted">{H.end}</p>
      )}
    </section>
  );
}
