/* team.tsx - Équipe: the city's staff accounts (back-office and finance):
 * creating one (it receives the activation e-mail), changing a role,
 * disabling an account (its sessions end at once). The API refuses to leave
 * no active back-office account; that refusal is said beside the control
 * that asked for it. */
import { useState } from 'preact/hooks';
import { announce } from '../../shared/announce';
import { messageFor } from '../../shared/errors.fr';
import { formatDate } from '../../shared/format';
import { useLoad } from '../../shared/load';
import type { Me } from '../../shared/session';
import { ConfirmDialog, ErrorSummary, LoadError, Loading, Notice, Page, Radios, TextField, useForm, useSubmission, type FieldError } from '../../shared/ui';
import { call } from '../../shared/api';
import type { StaffRole, StaffUser } from '../data';
import { T } from '../strings.fr';
import { Badge } from './common';

const E = T.team;
const LAST_ADMIN = { last_backoffice_admin: E.lastAdmin };

function AddStaff(props: { onAdded: (user: StaffUser) => void }) {
  const { values, setValues, setLocal, submission, general, summary, errorOf, set } = useForm(
    { full_name: '', email: '', role: 'backoffice' }, ['full_name', 'email', 'role'], { email_taken: E.emailTaken });

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!values.full_name.trim()) problems.push({ field: 'full_name', text: E.nameMissing });
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email.trim())) problems.push({ field: 'email', text: E.emailInvalid });
    setLocal(problems);
    if (problems.length) return;
    const user = await submission.run((key) =>
      call('post', '/api/v1/staff-users', { key, body: { full_name: values.full_name.trim(), email: values.email.trim(), role: values.role as StaffRole } }),
    );
    if (user) {
      setValues({ full_name: '', email: '', role: 'backoffice' });
      props.onAdded(user);
    }
  }

  return (
    <section class="section" aria-labelledby="add-title">
      <h2 id="add-title">{E.addTitle}</h2>
      <p>{E.addLead}</p>
      <ErrorSummary errors={summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="full_name" label={E.name} value={values.full_name} onValue={set('full_name')} error={errorOf('full_name')} maxLength={200} autoComplete="off" />
        <TextField name="email" type="email" label={E.email} value={values.email} onValue={set('email')} error={errorOf('email')} spellcheck={false} autoComplete="off" />
        <Radios name="role" legend={E.role} value={values.role} onValue={set('role')} error={errorOf('role')}
          options={[['backoffice', T.roles.backoffice!, T.roleHints.backoffice], ['finance', T.roles.finance!, T.roleHints.finance]]} />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>{E.add}</button>
        </div>
      </form>
    </section>
  );
}

function StaffRow(props: { user: StaffUser; self: boolean; onChanged: () => void; onDisable: () => void }) {
  const u = props.user;
  const [role, setRole] = useState<StaffRole>(u.role);
  const submission = useSubmission();
  const selectId = `role-${u.user_id}`;
  async function save() {
    const done = await submission.run((key) => call('patch', '/api/v1/staff-users/{user_id}', { params: { user_id: u.user_id }, body: { role }, key }));
    if (done) {
      announce(E.roleSaved(u.full_name, T.roles[role]!));
      props.onChanged();
    }
  }
  const error = submission.error ? messageFor(submission.error, LAST_ADMIN) : null;
  return (
    <tr>
      <th scope="row" data-label={E.name}>{u.full_name}{props.self && <span class="reason">{E.you}</span>}</th>
      <td data-label={E.email}>{u.email}</td>
      <td data-label={E.role}>
        {u.disabled ? T.roles[u.role] : (
          <>
            <div class="reference-edit">
              <label class="visually-hidden" for={selectId}>{E.roleOf(u.full_name)}</label>
              <select id={selectId} value={role} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? `${selectId}-error` : undefined}
                onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as StaffRole)}>
                <option value="backoffice">{T.roles.backoffice}</option>
                <option value="finance">{T.roles.finance}</option>
              </select>
              {role !== u.role && (
                <button type="button" class="button button-small" disabled={submission.busy} onClick={() => void save()}>{E.saveRole}</button>
              )}
            </div>
            {error && <p class="error-message" id={`${selectId}-error`} role="alert">{error}</p>}
          </>
        )}
      </td>
      <td data-label={E.state}>
        {u.disabled ? <Badge kind="closed">{E.disabled}</Badge> : u.activated ? <Badge kind="ok">{E.activated}</Badge> : <Badge kind="todo">{E.notActivated}</Badge>}
        <span class="reason">{E.since(formatDate(u.created_at))}</span>
      </td>
      <td data-label={E.actions}>
        {!u.disabled && (
          <button type="button" class="button button-small button-secondary" onClick={props.onDisable}>
            {E.disable}<span class="visually-hidden"> {u.full_name}</span>
          </button>
        )}
      </td>
    </tr>
  );
}

export function TeamPage(props: { me: Me }) {
  const list = useLoad(() => call('get', '/api/v1/staff-users'), []);
  const [added, setAdded] = useState<StaffUser | null>(null);
  const [toDisable, setToDisable] = useState<StaffUser | null>(null);
  const [disabled, setDisabled] = useState<string | null>(null);
  const submission = useSubmission();

  async function disable() {
    const user = toDisable;
    if (!user) return;
    const done = await submission.run(async (key) => {
      await call('delete', '/api/v1/staff-users/{user_id}', { params: { user_id: user.user_id }, key });
      return true;
    });
    if (done) {
      setToDisable(null);
      setAdded(null);
      setDisabled(user.full_name);
      announce(E.disabledDone(user.full_name));
      void list.reload();
    }
  }

  return (
    <Page title={E.title} lead={E.lead}>
      {added && (
        <Notice kind="success" title={E.addedTitle(added.full_name)} role="status"><p>{E.addedText(added.email)}</p></Notice>
      )}
      {disabled && <Notice kind="success" title={E.disabledDone(disabled)} role="status" />}
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && (
        <div class="table-wrap">
          <table class="data responsive">
            <caption class="visually-hidden">{E.title}</caption>
            <thead><tr><th scope="col">{E.name}</th><th scope="col">{E.email}</th><th scope="col">{E.role}</th><th scope="col">{E.state}</th><th scope="col">{E.actions}</th></tr></thead>
            <tbody>
              {list.value.users.map((u) => (
                <StaffRow key={`${u.user_id}-${u.role}-${u.disabled}`} user={u} self={u.user_id === props.me.user_id}
                  onChanged={() => void list.reload()} onDisable={() => { submission.setError(null); setToDisable(u); }} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <AddStaff onAdded={(user) => { setDisabled(null); setAdded(user); announce(E.addedTitle(user.full_name)); void list.reload(); }} />
      <ConfirmDialog open={toDisable !== null} title={E.disableTitle} confirm={E.disableConfirm} cancel={T.cancel} danger busy={submission.busy}
        onConfirm={() => void disable()} onClose={() => setToDisable(null)}>
        {toDisable && <p>{E.disableQuestion(toDisable.full_name, toDisable.email)}</p>}
        {submission.error && <p class="error-message" role="alert">{messageFor(submission.error, LAST_ADMIN)}</p>}
      </ConfirmDialog>
    </Page>
  );
}
