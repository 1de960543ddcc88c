/* home.tsx - P9, P24: what is left on the pass, envelope by envelope (its
 * category in words, its amount, its end date), the envelopes that end
 * within 30 days announced, the total; the last balance seen stays on the
 * phone so that the app shows it offline, marked with its time. */
import type { ComponentChildren } from 'preact';
import { formatCents, formatDate, formatDay, formatTime } from '../../shared/format';
import { LoadError, Loading, Notice, Page } from '../../shared/ui';
import { BASE, daysUntil, endingSoon, passClosed, type Envelope, type Pass, type SeenPass } from '../data';
import { budgetName, categoryLabel, T } from '../strings.fr';

function EnvelopeCard(props: { envelope: Envelope }) {
  const e = props.envelope;
  const ending = endingSoon(e);
  return (
    <li class={`card envelope${ending ? ' envelope-ending' : ''}${e.expired ? ' envelope-expired' : ''}`}>
      <h3>{categoryLabel(e.category)}</h3>
      <p class="envelope-amount">
        <span class="visually-hidden">{T.home.envelopeBalance} : </span>
        {formatCents(e.balance_cents)}
      </p>
      <p class="envelope-end">
        {e.expired ? T.home.expired : e.end_date ? T.home.until(formatDay(e.end_date)) : T.home.noEnd}
      </p>
      {ending && <p class="tag tag-ending">{T.home.endingTag}</p>}
    </li>
  );
}

/** A closed pass says so, plainly, where its actions would be. */
export function ClosedNotice(props: { pass: Pass }) {
  return (
    <Notice kind="info" title={T.closed.title}>
      <p>{T.closed.text(formatDate(props.pass.closed_at))}</p>
      <p>{T.closed.contact}</p>
    </Notice>
  );
}

/** The pass as last seen: the total, the notices, each envelope (a closed
 * pass: the total and why it is empty). */
export function PassView(props: { seen: SeenPass; offline: boolean; children?: ComponentChildren }) {
  const { pass, seenAt } = props.seen;
  const closed = passClosed(pass);
  const ending = closed ? [] : pass.envelopes.filter((e) => endingSoon(e));
  return (
    <>
      <section class="total" aria-labelledby="total-title">
        <h2 id="total-title">{T.home.total}</h2>
        <p class="total-amount">{formatCents(pass.balance_cents)}</p>
        <p class={props.offline ? 'seen-at seen-at-offline' : 'seen-at'}>{T.home.seenAt(formatDate(seenAt).slice(0, 5), formatTime(seenAt))}</p>
      </section>
      {closed ? <ClosedNotice pass={pass} /> : props.children}
      {ending.map((e) => (
        <Notice key={e.category} kind="warning" title={T.home.endingTitle}>
          <p>{T.home.ending(budgetName(e.category), formatCents(e.balance_cents), formatDay(e.end_date), daysUntil(e.end_date!))}</p>
        </Notice>
      ))}
      {!closed && (
        <>
          <h2>{T.home.envelopes}</h2>
          <ul class="cards envelopes">
            {pass.envelopes.map((e) => (
              <EnvelopeCard key={e.category} envelope={e} />
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function Actions() {
  return (
    <div class="actions">
      <a class="button button-big" href={`${BASE}/payer`}>
        {T.home.pay}
      </a>
      <a class="button button-secondary" href={`${BASE}/bons`}>
        {T.home.voucher}
      </a>
    </div>
  );
}

export function HomePage(props: { name: string; seen: SeenPass | null; error: import('../../shared/api').ApiError | null; reload: () => void; welcome: boolean }) {
  return (
    <Page title={T.home.title} lead={T.home.hello(props.name)}>
      {props.welcome && <Notice kind="success">{T.home.welcome}</Notice>}
      {props.error && !props.seen && <LoadError error={props.error} retry={props.reload} />}
      {props.error && props.seen && props.error.status === 0 && (
        <Notice kind="warning" title={T.home.offlineTitle} role="status">
          <p>{T.home.offlineText}</p>
        </Notice>
      )}
      {!props.seen && !props.error && <Loading />}
      {props.seen && (
        <PassView seen={props.seen} offline={Boolean(props.error)}>
          <Actions />
        </PassView>
      )}
      {!props.seen && <Actions />}
      <p>
        <a href={`${BASE}/historique`}>{T.home.history}</a>
      </p>
    </Page>
  );
}

/** Offline, before any session could be read: the last pass seen here. */
export function OfflineHomePage(props: { seen: SeenPass | null; retry: () => void }) {
  return (
    <Page title={T.home.title}>
      <Notice kind="warning" title={T.home.offlineTitle} role="status">
        <p>{props.seen ? T.home.offlineText : T.home.offlineNothing}</p>
        <button type="button" class="button button-secondary" onClick={props.retry}>
          {T.home.retry}
        </button>
      </Notice>
      {props.seen && <PassView seen={props.seen} offline />}
    </Page>
  );
}
