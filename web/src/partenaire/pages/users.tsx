/* users.tsx - P6, P7: the structure's user accounts (administrators only):
 * list, add (the new user receives the activation e-mail), change the
 * profile, remove; the last-administrator rule explained when it refuses. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { messageFor } from '../../shared/errors.fr';
import { formatDate } from '../../shared/format';
import { useSession } from '../../shared/session';
import { ConfirmDialog, ErrorSummary, LoadError, Loading, Notice, Page, Radios, TextField, errorsOf, useSubmission, type FieldError } from '../../shared/ui';
import { useLoad, type PartnerUser } from '../data';
import { T } from '../strings.fr';

type Role = PartnerUser['role'];

function AddUser(props: { onAdded: (user: PartnerUser) => void }) {
  const [email, setEmail] = useState('');
  const [fullName, setFullName] = useState('');
  const [role, setRole] = useState<Role>('partner_user');
  const [local, setLocal] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['email', 'full_name', 'role'], {
    'invalid_value:full_name': T.users.nameInvalid,
  });
  const errorOf = (name: string) => local.find((e) => e.field === name)?.text ?? byField[name];

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!fullName.trim()) problems.push({ field: 'full_name', text: T.users.nameMissing });
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) problems.push({ field: 'email', text: T.users.emailInvalid });
    setLocal(problems);
    if (problems.length) return;
    const user = await submission.run((key) =>
      call('post', '/api/v1/partner/users', { body: { email: email.trim(), full_name: fullName.trim(), role }, key }),
    );
    if (user) {
      setEmail('');
      setFullName('');
      setRole('partner_user');
      props.onAdded(user);
    }
  }

  return (
    <section aria-labelledby="add-title" class="section">
      <h2 id="add-title">{T.users.addTitle}</h2>
      <p>{T.users.addLead}</p>
      <ErrorSummary errors={local.length ? local : summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="full_name" label={T.users.name} autoComplete="off" value={fullName} onValue={setFullName} error={errorOf('full_name')} maxLength={200} />
        <TextField name="email" type="email" label={T.users.email} hint={T.users.emailHint} autoComplete="off" spellcheck={false} value={email} onValue={setEmail} error={errorOf('email')} />
        <Radios
          name="role"
          legend={T.users.role}
          value={role}
          onValue={(v) => setRole(v as Role)}
          error={errorOf('role')}
          options={[
            ['partner_user', T.roles.partner_user, T.users.userHint],
            ['partner_admin', T.roles.partner_admin, T.users.adminHint],
          ]}
        />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {T.users.add}
          </button>
        </div>
      </form>
    </section>
  );
}

function UserRow(props: { user: PartnerUser; self: boolean; onChanged: () => void; onRemove: () => void }) {
  const u = props.user;
  const [role, setRole] = useState<Role>(u.role);
  const submission = useSubmission();
  const selectId = `role-${u.user_id}`;
  async function save() {
    const done = await submission.run((key) =>
      call('patch', '/api/v1/partner/users/{user_id}', { params: { user_id: u.user_id }, body: { role }, key }),
    );
    if (done) {
      announce(T.users.roleSaved(u.full_name, T.roles[role]));
      props.onChanged();
    }
  }
  const error = submission.error ? messageFor(submission.error, { last_admin: T.users.lastAdminRole }) : null;
  return (
    <tr>
      <th scope="row" data-label={T.users.name}>
        {u.full_name}
        {props.self && <span class="reason">{T.users.you}</span>}
      </th>
      <td data-label={T.users.email}>{u.email}</td>
      <td data-label={T.users.role}>
        <div class="reference-edit">
          <label class="visually-hidden" for={selectId}>
            {T.users.roleOf(u.full_name)}
          </label>
          <select
            id={selectId}
            value={role}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? `${selectId}-error` : undefined}
            onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}
          >
            <option value="partner_user">{T.roles.partner_user}</option>
            <option value="partner_admin">{T.roles.partner_admin}</option>
          </select>
          {role !== u.role && (
            <button type="button" class="button button-small" disabled={submission.busy} onClick={() => void save()}>
              {T.users.saveRole}
            </button>
          )}
        </div>
        {error && (
          <p class="error-message" id={`${selectId}-error`} role="alert">
            {error}
          </p>
        )}
      </td>
      <td data-label={T.users.state}>{u.activated ? T.users.activated(formatDate(u.created_at)) : T.users.notActivated}</td>
      <td data-label={T.users.actions}>
        <button type="button" class="button button-small button-secondary" onClick={props.onRemove}>
          {T.users.remove}
          <span class="visually-hidden"> {u.full_name}</span>
        </button>
      </td>
    </tr>
  );
}

export function UsersPage() {
  const { me } = useSession();
  const list = useLoad(() => call('get', '/api/v1/partner/users'), []);
  const [added, setAdded] = useState<PartnerUser | null>(null);
  const [toRemove, setToRemove] = useState<PartnerUser | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  const submission = useSubmission();

  async function remove() {
    const user = toRemove;
    if (!user) return;
    const done = await submission.run(async (key) => {
      await call('delete', '/api/v1/partner/users/{user_id}', { params: { user_id: user.user_id }, key });
      return true;
    });
    if (done) {
      setToRemove(null);
      setRemoved(user.full_name);
      announce(T.users.removed(user.full_name));
      void list.reload();
    }
  }

  return (
    <Page title={T.users.title} lead={T.users.lead} wide>
      {added && (
        <Notice kind="success" title={T.users.addedTitle(added.full_name)} role="status">
          <p>{T.users.addedText(added.email)}</p>
        </Notice>
      )}
      {removed && <Notice kind="success" title={T.users.removed(removed)} role="status" />}
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && (
        <div class="table-wrap">
          <table class="data responsive">
            <caption class="visually-hidden">{T.users.caption}</caption>
            <thead>
              <tr>
                <th scope="col">{T.users.name}</th>
                <th scope="col">{T.users.email}</th>
                <th scope="col">{T.users.role}</th>
                <th scope="col">{T.users.state}</th>
                <th scope="col">{T.users.actions}</th>
              </tr>
            </thead>
            <tbody>
              {list.value.users.map((u) => (
                <UserRow
                  key={`${u.user_id}-${u.role}`}
                  user={u}
                  self={u.user_id === me?.user_id}
                  onChanged={() => void list.reload()}
                  onRemove={() => {
                    submission.setError(null);
                    setToRemove(u);
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <AddUser
        onAdded={(user) => {
          setAdded(user);
          announce(T.users.addedTitle(user.full_name));
          void list.reload();
        }}
      />
      <ConfirmDialog
        open={toRemove !== null}
        title={T.users.removeTitle}
        confirm={T.users.removeConfirm}
        cancel={T.common.cancel}
        danger
        busy={submission.busy}
        onConfirm={() => void remove()}
        onClose={() => setToRemove(null)}
      >
        {toRemove && <p>{T.users.removeQuestion(toRemove.full_name, toRemove.email)}</p>}
        {submission.error && (
          <p class="error-message" role="alert">
            {messageFor(submission.error, { last_admin: T.users.lastAdminRemove })}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}
