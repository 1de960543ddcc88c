/* conventions.tsx - P21: the conventions the partner accepted (when, by
 * whom) and those waiting, to read and accept (administrators). */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { messageFor } from '../../shared/errors.fr';
import { formatDateTime, formatDay } from '../../shared/format';
import { useSession } from '../../shared/session';
import { LoadError, Loading, Notice, Page, useSubmission } from '../../shared/ui';
import { isAdmin, useLoad, type Schemas } from '../data';
import { T } from '../strings.fr';

type Convention = Schemas['PartnerConvention'];

function Waiting(props: { convention: Convention; admin: boolean; onAccepted: () => void }) {
  const c = props.convention;
  const [read, setRead] = useState(false);
  const [problem, setProblem] = useState(false);
  const submission = useSubmission();
  const boxId = `read-${c.convention_id}`;
  async function accept(event: Event) {
    event.preventDefault();
    if (!read) {
      setProblem(true);
      return;
    }
    const done = await submission.run((key) =>
      call('post', '/api/v1/partner/conventions/{convention_id}/accept', { params: { convention_id: c.convention_id }, key }),
    );
    if (done) {
      announce(T.conventions.acceptedAnnounce(c.title));
      props.onAccepted();
    }
  }
  return (
    <li class="card">
      <h3>{c.title}</h3>
      <p>
        {T.conventions.version(c.version)} · {T.conventions.effective(formatDay(c.effective_date))} ·{' '}
        <strong>{c.mandatory ? (c.in_force ? T.conventions.mandatoryInForce : T.conventions.mandatory) : T.conventions.optional}</strong>
      </p>
      <details>
        <summary>{T.conventions.read}</summary>
        <div class="convention-text" tabIndex={0} aria-label={T.conventions.textLabel(c.title)}>
          {c.text}
        </div>
      </details>
      {props.admin ? (
        <form onSubmit={accept} noValidate>
          <div class={`checkbox${problem && !read ? ' field-error' : ''}`}>
            <input
              type="checkbox"
              id={boxId}
              checked={read}
              aria-describedby={problem && !read ? `${boxId}-error` : undefined}
              onChange={(e) => setRead((e.currentTarget as HTMLInputElement).checked)}
            />
            <label for={boxId}>{T.conventions.haveRead(c.title)}</label>
          </div>
          {problem && !read && (
            <p class="error-message" id={`${boxId}-error`}>
              <span class="visually-hidden">Erreur : </span>
              {T.conventions.mustRead}
            </p>
          )}
          {submission.error && (
            <p class="error-message" role="alert">
              {messageFor(submission.error)}
            </p>
          )}
          <div class="button-row">
            <button type="submit" class="button" disabled={submission.busy}>
              {T.conventions.accept}
            </button>
          </div>
        </form>
      ) : (
        <p class="muted">{T.conventions.adminOnly}</p>
      )}
    </li>
  );
}

export function ConventionsPage() {
  const { me } = useSession();
  const data = useLoad(() => call('get', '/api/v1/partner/conventions'), []);
  return (
    <Page title={T.conventions.title} lead={T.conventions.lead}>
      {data.loading && !data.value && <Loading />}
      {data.error && <LoadError error={data.error} retry={() => void data.reload()} />}
      {data.value && (
        <>
          <h2>{T.conventions.waitingTitle}</h2>
          {data.value.waiting.length === 0 ? (
            <Notice kind="success" title={T.conventions.allAccepted} />
          ) : (
            <ul class="cards">
              {data.value.waiting.map((c) => (
                <Waiting key={c.convention_id} convention={c} admin={isAdmin(me)} onAccepted={() => void data.reload()} />
              ))}
            </ul>
          )}
          <h2>{T.conventions.acceptedTitle}</h2>
          {data.value.accepted.length === 0 ? (
            <p>{T.conventions.noneAccepted}</p>
          ) : (
            <ul class="cards">
              {data.value.accepted.map((c) => (
                <li class="card" key={c.convention_id}>
                  <h3>{c.title}</h3>
                  <p>
                    {T.conventions.version(c.version)} · {T.conventions.effective(formatDay(c.effective_date))}
                  </p>
                  {c.acceptance && (
                    <p>
                      <strong>{T.conventions.acceptedOn(formatDateTime(c.acceptance.accepted_at), c.acceptance.accepted_by.full_name)}</strong>
                    </p>
                  )}
                  <details>
                    <summary>{T.conventions.read}</summary>
                    <div class="convention-text" tabIndex={0} aria-label={T.conventions.textLabel(c.title)}>
                      {c.text}
                    </div>
                  </details>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Page>
  );
}
