/* ui.tsx - the shared components: a page with its focused heading and title,
 * form fields with label, hint and error beside them, the error summary at
 * the top of a form (GOV.UK design system's pattern), notices, a
 * confirmation dialog, and the submission hook that keeps one
 * Idempotency-Key per submission until its outcome is known. */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, newIdempotencyKey, outcomeUnknown, type ApiError } from './api';
import { onAnnounce } from './announce';
import { messageFor } from './errors.fr';
import { navigationCount } from './router';

let appTitle = '';

export function setAppTitle(title: string): void {
  appTitle = title;
}

/** A page: its `<h1>` receives the focus after a navigation, its title names
 * the tab. */
export function Page(props: { title: string; lead?: ComponentChildren; children?: ComponentChildren; wide?: boolean }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = appTitle ? `${props.title} – ${appTitle}` : props.title;
    if (navigationCount() > 0) heading.current?.focus();
  }, [props.title]);
  return (
    <div class={props.wide ? 'page page-wide' : 'page'}>
      <h1 tabIndex={-1} ref={heading}>
        {props.title}
      </h1>
      {props.lead && <p class="lead">{props.lead}</p>}
      {props.children}
    </div>
  );
}

export function LiveRegion() {
  const [text, setText] = useState('');
  useEffect(
    () =>
      onAnnounce((said) => {
        // Emptied first so that the same sentence twice is said twice.
        setText('');
        window.setTimeout(() => setText(said), 50);
      }),
    [],
  );
  return (
    <div class="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="live-region">
      {text}
    </div>
  );
}

export interface FieldError {
  field: string;
  text: string;
}

export function fieldId(field: string): string {
  return `f-${field.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

interface FieldProps {
  name: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string | undefined;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => JSX.Element;
  class?: string;
}

/** Label, hint, error and the control, tied together for assistive technology. */
export function Field(props: FieldProps) {
  const id = fieldId(props.name);
  const hintId = props.hint ? `${id}-hint` : '';
  const errorId = props.error ? `${id}-error` : '';
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${props.error ? ' field-error' : ''}${props.class ? ` ${props.class}` : ''}`}>
      <label for={id}>{props.label}</label>
      {props.hint && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="error-message" id={errorId}>
          <span class="visually-hidden">Erreur : </span>
          {props.error}
        </p>
      )}
      {props.children({ id, describedBy, invalid: Boolean(props.error) })}
    </div>
  );
}

type InputAttributes = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'value' | 'onInput' | 'name' | 'label' | 'error'>;

export function TextField(
  props: {
    name: string;
    label: ComponentChildren;
    hint?: ComponentChildren;
    error?: string | undefined;
    value: string;
    onValue: (value: string) => void;
    fieldClass?: string;
  } & InputAttributes,
) {
  const { name, label, hint, error, value, onValue, fieldClass, ...rest } = props;
  return (
    <Field name={name} label={label} hint={hint} error={error} class={fieldClass}>
      {({ id, describedBy, invalid }) => (
        <input
          type="text"
          {...rest}
          id={id}
          name={name}
          value={value}
          aria-describedby={describedBy}
          aria-invalid={invalid ? 'true' : undefined}
          onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
        />
      )}
    </Field>
  );
}

export function TextArea(props: {
  name: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string | undefined;
  value: string;
  onValue: (value: string) => void;
  rows?: number;
  maxLength?: number;
}) {
  return (
    <Field name={props.name} label={props.label} hint={props.hint} error={props.error}>
      {({ id, describedBy, invalid }) => (
        <textarea
          id={id}
          name={props.name}
          rows={props.rows ?? 4}
          maxLength={props.maxLength}
          value={props.value}
          aria-describedby={describedBy}
          aria-invalid={invalid ? 'true' : undefined}
          onInput={(e) => props.onValue((e.currentTarget as HTMLTextAreaElement).value)}
        />
      )}
    </Field>
  );
}

export function SelectField(props: {
  name: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string | undefined;
  value: string;
  onValue: (value: string) => void;
  options: Array<[string, string]>;
}) {
  return (
    <Field name={props.name} label={props.label} hint={props.hint} error={props.error}>
      {({ id, describedBy, invalid }) => (
        <select
          id={id}
          name={props.name}
          value={props.value}
          aria-describedby={describedBy}
          aria-invalid={invalid ? 'true' : undefined}
          onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value)}
        >
          {props.options.map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function Radios(props: {
  name: string;
  legend: ComponentChildren;
  value: string;
  onValue: (value: string) => void;
  options: Array<[string, string, string?]>;
  error?: string | undefined;
}) {
  const id = fieldId(props.name);
  return (
    <fieldset class={`field${props.error ? ' field-error' : ''}`} id={id} tabIndex={-1}>
      <legend>{props.legend}</legend>
      {props.error && (
        <p class="error-message">
          <span class="visually-hidden">Erreur : </span>
          {props.error}
        </p>
      )}
      {props.options.map(([value, text, hint]) => (
        <div class="radio" key={value}>
          <input
            type="radio"
            id={`${id}-${value}`}
            name={props.name}
            value={value}
            checked={props.value === value}
            aria-describedby={hint ? `${id}-${value}-hint` : undefined}
            onChange={() => props.onValue(value)}
          />
          <label for={`${id}-${value}`}>{text}</label>
          {hint && (
            <p class="hint" id={`${id}-${value}-hint`}>
              {hint}
            </p>
          )}
        </div>
      ))}
    </fieldset>
  );
}

/** The list of a form's problems, at its top, each linking to its field; it
 * takes the focus when it appears so that the problem is heard first. */
export function ErrorSummary(props: { errors: FieldError[]; general?: string | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const shown = props.errors.length > 0 || Boolean(props.general);
  const signature = props.errors.map((e) => e.field + e.text).join('|') + (props.general ?? '');
  useEffect(() => {
    if (shown) box.current?.focus();
  }, [signature]);
  if (!shown) return null;
  return (
    <div class="error-summary" role="alert" tabIndex={-1} ref={box} aria-labelledby="error-summary-title">
      <h2 id="error-summary-title">Il y a un problème</h2>
      {props.general && <p>{props.general}</p>}
      {props.errors.length > 0 && (
        <ul>
          {props.errors.map((e) => (
            <li key={e.field}>
              <a
                href={`#${fieldId(e.field)}`}
                onClick={(event) => {
                  event.preventDefault();
                  const target = document.getElementById(fieldId(e.field));
                  target?.focus();
                  target?.scrollIntoView({ block: 'center' });
                }}
              >
                {e.text}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export type NoticeKind = 'success' | 'info' | 'warning' | 'error';
const NOTICE_PREFIX: Record<NoticeKind, string> = { success: 'C’est fait : ', info: 'Information : ', warning: 'Attention : ', error: 'Erreur : ' };

/** A boxed message; its kind is said in words (hidden prefix and the
 * heading), never by colour alone. */
export function Notice(props: { kind: NoticeKind; title?: string; children?: ComponentChildren; role?: 'status' | 'alert' }) {
  return (
    <div class={`notice notice-${props.kind}`} role={props.role}>
      {props.title ? (
        <p class="notice-title">
          <span class="visually-hidden">{NOTICE_PREFIX[props.kind]}</span>
          {props.title}
        </p>
      ) : (
        <span class="visually-hidden">{NOTICE_PREFIX[props.kind]}</span>
      )}
      {props.children}
    </div>
  );
}

export function Loading(props: { text?: string }) {
  return (
    <p class="loading" role="status">
      {props.text ?? 'Chargement…'}
    </p>
  );
}

/** A failure to load something: says it in French and offers to try again. */
export function LoadError(props: { error: ApiError; retry?: () => void }) {
  return (
    <Notice kind="error" title="Impossible d’afficher cette page pour le moment" role="alert">
      <p>{messageFor(props.error)}</p>
      {props.retry && (
        <button type="button" class="button button-secondary" onClick={props.retry}>
          Réessayer
        </button>
      )}
    </Notice>
  );
}

/** A modal question with a native `<dialog>` (focus kept inside, Escape closes). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirm: string;
  cancel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (props.open && !element.open) element.showModal();
    if (!props.open && element.open) element.close();
  }, [props.open]);
  return (
    <dialog ref={dialog} class="dialog" aria-labelledby="dialog-title" onClose={props.onClose} onCancel={props.onClose}>
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
      <div class="button-row">
        <button
          type="button"
          class={props.danger ? 'button button-danger' : 'button'}
          disabled={props.busy}
          onClick={props.onConfirm}
        >
          {props.confirm}
        </button>
        <button type="button" class="button button-secondary" onClick={props.onClose}>
          {props.cancel}
        </button>
      </div>
    </dialog>
  );
}

/** One form submission: a single Idempotency-Key kept until the outcome is
 * known (reused on retry after a lost connection, a timeout or a 5xx), no
 * second call while one is running (double click), the error kept for the
 * form to show. */
export function useSubmission() {
  const key = useRef<string | null>(null);
  const running = useRef(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  async function run<T>(action: (key: string) => Promise<T>): Promise<T | undefined> {
    if (running.current) return undefined;
    running.current = true;
    key.current ??= newIdempotencyKey();
    setBusy(true);
    setError(null);
    try {
      const result = await action(key.current);
      key.current = null;
      return result;
    } catch (e) {
      const failure = asApiError(e);
      if (!outcomeUnknown(failure)) key.current = null;
      setError(failure);
      return undefined;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }
  /** Whether the next run retries a submission whose outcome is unknown. */
  const retrying = () => key.current !== null;
  return { run, busy, error, setError, retrying };
}

/** Splits an API error into the error beside a field of this form, or the
 * general one for the summary. */
export function errorsOf(
  error: ApiError | null,
  fields: readonly string[],
  overrides: Record<string, string> = {},
): { byField: Record<string, string>; summary: FieldError[]; general: string | undefined } {
  if (!error) return { byField: {}, summary: [], general: undefined };
  const text = messageFor(error, overrides);
  if (error.field && fields.includes(error.field)) {
    return { byField: { [error.field]: text }, summary: [{ field: error.field, text }], general: undefined };
  }
  return { byField: {}, summary: [], general: text };
}

/** A form's state: its values, the problems found before sending (`local`),
 * the submission, and each field's error (local first, then the API's). */
export function useForm<V extends Record<string, string>>(initial: V, fields: readonly string[], overrides: Record<string, string> = {}) {
  const [values, setValues] = useState<V>(initial);
  const [local, setLocal] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, fields, overrides);
  return {
    values,
    setValues,
    setLocal,
    submission,
    general,
    /** What the error summary lists. */
    summary: local.length ? local : summary,
    errorOf: (name: string) => local.find((e) => e.field === name)?.text ?? byField[name],
    set: (name: keyof V) => (value: string) => setValues({ ...values, [name]: value }),
  };
}
