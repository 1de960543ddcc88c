/* structure.tsx - P2 to P5: the structure's public information with a
 * preview of what beneficiaries see, the logo and cover, the headquarters
 * and activity addresses, the bank account (IBAN checked as it is typed).
 * Administrators edit; users read. */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { bicValid, checkIban, groupIban, normalizeIban } from '../../shared/checks';
import { messageFor } from '../../shared/errors.fr';
import { formatBytes, groupDigits } from '../../shared/format';
import { useSession } from '../../shared/session';
import { ErrorSummary, Field, LoadError, Loading, Notice, Page, TextArea, TextField, errorsOf, useSubmission, type FieldError } from '../../shared/ui';
import { categoryLabel, isAdmin, refreshPartner, useLoad, type Structure } from '../data';
import { T } from '../strings.fr';

const IMAGE_BYTES_MAX = 1024 * 1024;
const FIELDS = [
  'public_name', 'legal_name', 'description', 'website', 'social_links', 'hq_address', 'activity_address',
  'contact_phone', 'contact_email', 'iban', 'bic', 'bank_holder',
] as const;
type FormName = (typeof FIELDS)[number];
type Form = Record<FormName, string>;

function formOf(s: Structure): Form {
  return {
    public_name: s.public_name,
    legal_name: s.legal_name,
    description: s.description ?? '',
    website: s.website ?? '',
    social_links: (s.social_links ?? []).join('\n'),
    hq_address: s.hq_address ?? '',
    activity_address: s.activity_address ?? '',
    contact_phone: s.contact_phone ?? '',
    contact_email: s.contact_email ?? '',
    iban: s.iban ? groupIban(s.iban) : '',
    bic: s.bic ?? '',
    bank_holder: s.bank_holder ?? '',
  };
}

function ibanMessage(typed: string, final: boolean): string | null {
  switch (checkIban(typed)) {
    case 'bad_shape':
      return T.structure.ibanShape;
    case 'bad_length':
      return T.structure.ibanLength;
    case 'bad_checksum':
      return T.structure.ibanChecksum;
    case 'incomplete':
      return final ? T.structure.ibanIncomplete : null;
    default:
      return null;
  }
}

/** What beneficiaries see of the structure in their app. */
function Preview(props: { form: Form; category: string; logo: string | null; cover: string | null }) {
  const f = props.form;
  const address = f.activity_address.trim() || f.hq_address.trim();
  return (
    <section aria-labelledby="preview-title">
      <h2 id="preview-title">{T.structure.previewTitle}</h2>
      <p class="hint">{T.structure.previewHint}</p>
      <div class="preview" data-testid="preview">
        {props.cover ? <img class="preview-cover" src={props.cover} alt="" /> : <div class="preview-cover preview-cover-empty" />}
        <div class="preview-body">
          <div class="preview-head">
            {props.logo && <img class="preview-logo" src={props.logo} alt={T.structure.logoAlt(f.public_name)} />}
            <div>
              <p class="preview-name">{f.public_name || T.structure.noName}</p>
              <p class="preview-category">{categoryLabel(props.category)}</p>
            </div>
          </div>
          {f.description.trim() && <p>{f.description}</p>}
          <p>
            <strong>{T.structure.previewAddress}</strong>
            {address || T.structure.noAddress}
            {address && !f.activity_address.trim() && <span class="reason">{T.structure.hqUsed}</span>}
          </p>
          {f.website.trim() && <p>{f.website.trim()}</p>}
        </div>
      </div>
    </section>
  );
}

function ImageUpload(props: { slot: 'logo' | 'cover'; current: string | null; onDone: () => void }) {
  const texts = props.slot === 'logo' ? T.structure.logo : T.structure.cover;
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const submission = useSubmission();
  const name = `${props.slot}_file`;
  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);

  function choose(chosen: File | null) {
    setFile(null);
    setPreview(null);
    submission.setError(null);
    if (!chosen) return;
    if (chosen.type !== 'image/png' && chosen.type !== 'image/jpeg') {
      setProblem(T.structure.imageType(chosen.name));
      return;
    }
    if (chosen.size > IMAGE_BYTES_MAX) {
      setProblem(T.structure.imageSize(formatBytes(chosen.size)));
      return;
    }
    setProblem(null);
    setFile(chosen);
    setPreview(URL.createObjectURL(chosen));
  }

  async function send() {
    if (!file) {
      setProblem(T.structure.imageNone);
      return;
    }
    const path = props.slot === 'logo' ? '/api/v1/partner/structure/logo' : '/api/v1/partner/structure/cover';
    const done = await submission.run((key) => call('put', path, { blob: file, key }));
    if (done) {
      setFile(null);
      setPreview(null);
      announce(texts.saved);
      props.onDone();
    }
  }

  const error = problem ?? (submission.error ? messageFor(submission.error) : undefined);
  const shown = preview ?? props.current;
  return (
    <div class="card">
      <h3>{texts.title}</h3>
      <div class="image-choice">
        {shown ? (
          <img class={props.slot === 'cover' ? 'image-current image-current-cover' : 'image-current'} src={shown} alt={preview ? texts.previewAlt : texts.currentAlt} />
        ) : (
          <p class="muted">{texts.none}</p>
        )}
        <div>
          <Field name={name} label={texts.choose} hint={T.structure.imageHint} error={error}>
            {({ id, describedBy, invalid }) => (
              <input
                type="file"
                id={id}
                name={name}
                accept="image/png,image/jpeg"
                aria-describedby={describedBy}
                aria-invalid={invalid ? 'true' : undefined}
                onChange={(e) => choose((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
              />
            )}
          </Field>
          {file && (
            <div class="button-row">
              <button type="button" class="button" disabled={submission.busy} onClick={() => void send()}>
                {texts.send}
              </button>
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

function ReadOnly(props: { s: Structure }) {
  const s = props.s;
  const rows: Array<[string, string]> = [
    [T.structure.publicName, s.public_name],
    [T.structure.legalName, s.legal_name],
    [T.structure.description, s.description || '–'],
    [T.structure.website, s.website || '–'],
    [T.structure.hqAddress, s.hq_address || '–'],
    [T.structure.activityAddress, s.activity_address || T.structure.activityEmpty],
    [T.structure.phone, s.contact_phone || '–'],
    [T.structure.email, s.contact_email || '–'],
    [T.structure.iban, s.iban ? groupIban(s.iban) : '–'],
  ];
  return (
    <>
      <Notice kind="info">{T.structure.readOnly}</Notice>
      <dl class="facts">
        {rows.map(([label, value]) => (
          <>
            <dt key={`${label}-t`}>{label}</dt>
            <dd key={`${label}-d`}>{value}</dd>
          </>
        ))}
      </dl>
    </>
  );
}

export function StructurePage() {
  const { me } = useSession();
  const admin = isAdmin(me);
  const data = useLoad(() => call('get', '/api/v1/partner/structure'), []);
  const [form, setForm] = useState<Form | null>(null);
  const [local, setLocal] = useState<FieldError[]>([]);
  const [saved, setSaved] = useState(false);
  const [ibanTouched, setIbanTouched] = useState(false);
  const submission = useSubmission();
  useEffect(() => {
    if (data.value && !form) setForm(formOf(data.value));
  }, [data.value]);
  const s = data.value;

  const { byField, summary, general } = errorsOf(submission.error, [...FIELDS]);
  const set = (name: FormName) => (value: string) => {
    setForm((f) => (f ? { ...f, [name]: value } : f));
    setSaved(false);
  };
  const ibanLive = form ? ibanMessage(form.iban, ibanTouched) : null;
  const errorOf = (name: FormName) => local.find((e) => e.field === name)?.text ?? (name === 'iban' ? ibanLive ?? byField.iban : byField[name]);

  async function submit(event: Event) {
    event.preventDefault();
    if (!form) return;
    const problems: FieldError[] = [];
    if (!form.public_name.trim()) problems.push({ field: 'public_name', text: T.structure.required });
    if (!form.legal_name.trim()) problems.push({ field: 'legal_name', text: T.structure.required });
    const ibanProblem = ibanMessage(form.iban, true);
    if (ibanProblem) problems.push({ field: 'iban', text: ibanProblem });
    if (form.bic.trim() && !bicValid(form.bic)) problems.push({ field: 'bic', text: T.structure.bicInvalid });
    if (form.iban.trim() && !form.bank_holder.trim()) problems.push({ field: 'bank_holder', text: T.structure.holderMissing });
    if (!form.iban.trim() && (form.bic.trim() || form.bank_holder.trim())) problems.push({ field: 'iban', text: T.structure.ibanMissing });
    const links = form.social_links.split('\n').map((l) => l.trim()).filter(Boolean);
    if (links.length > 8) problems.push({ field: 'social_links', text: T.structure.tooManyLinks });
    setLocal(problems);
    setIbanTouched(true);
    if (problems.length) return;
    const answer = await submission.run((key) =>
      call('put', '/api/v1/partner/structure', {
        key,
        body: {
          public_name: form.public_name.trim(),
          legal_name: form.legal_name.trim(),
          description: form.description.trim(),
          website: form.website.trim(),
          social_links: links,
          hq_address: form.hq_address.trim(),
          activity_address: form.activity_address.trim(),
          contact_phone: form.contact_phone.trim(),
          contact_email: form.contact_email.trim(),
          iban: normalizeIban(form.iban),
          bic: form.bic.replace(/\s+/g, '').toUpperCase(),
          bank_holder: form.bank_holder.trim(),
        },
      }),
    );
    if (answer) {
      data.setValue(answer);
      setForm(formOf(answer));
      setSaved(true);
      announce(T.structure.savedAnnounce);
      void refreshPartner();
    }
  }

  return (
    <Page title={T.structure.title} lead={T.structure.lead} wide>
      {data.loading && !s && <Loading />}
      {data.error && <LoadError error={data.error} retry={() => void data.reload()} />}
      {s && form && (
        <>
          <p>
            {T.structure.codeLine(groupDigits(s.partner_code), categoryLabel(s.category))}
          </p>
          {saved && <Notice kind="success" title={T.structure.saved} role="status" />}
          <div class="layout-two">
            <div>
              {admin ? (
                <>
                  <ErrorSummary errors={local.length ? local : summary} general={general} />
                  <form class="form" onSubmit={submit} noValidate>
                    <h2>{T.structure.publicTitle}</h2>
                    <p class="hint">{T.structure.publicHint}</p>
                    <TextField name="public_name" label={T.structure.publicName} value={form.public_name} onValue={set('public_name')} error={errorOf('public_name')} maxLength={200} />
                    <TextArea name="description" label={T.structure.description} hint={T.structure.descriptionHint} value={form.description} onValue={set('description')} error={errorOf('description')} maxLength={1000} />
                    <TextField name="website" type="url" label={T.structure.website} hint={T.structure.websiteHint} value={form.website} onValue={set('website')} error={errorOf('website')} maxLength={300} />
                    <TextArea name="social_links" label={T.structure.social} hint={T.structure.socialHint} rows={3} value={form.social_links} onValue={set('social_links')} error={errorOf('social_links')} />
                    <TextField name="activity_address" label={T.structure.activityAddress} hint={T.structure.activityHint} value={form.activity_address} onValue={set('activity_address')} error={errorOf('activity_address')} maxLength={300} autoComplete="street-address" />

                    <h2>{T.structure.legalTitle}</h2>
                    <TextField name="legal_name" label={T.structure.legalName} value={form.legal_name} onValue={set('legal_name')} error={errorOf('legal_name')} maxLength={200} />
                    <TextField name="hq_address" label={T.structure.hqAddress} value={form.hq_address} onValue={set('hq_address')} error={errorOf('hq_address')} maxLength={300} />
                    <TextField name="contact_phone" type="tel" label={T.structure.phone} value={form.contact_phone} onValue={set('contact_phone')} error={errorOf('contact_phone')} autoComplete="tel" />
                    <TextField name="contact_email" type="email" label={T.structure.email} value={form.contact_email} onValue={set('contact_email')} error={errorOf('contact_email')} autoComplete="email" />

                    <h2>{T.structure.bankTitle}</h2>
                    <p class="hint">{T.structure.bankHint}</p>
                    <Field name="iban" label={T.structure.iban} hint={T.structure.ibanHint} error={errorOf('iban')}>
                      {({ id, describedBy, invalid }) => (
                        <input
                          type="text"
                          id={id}
                          name="iban"
                          class="input-code"
                          autoComplete="off"
                          spellcheck={false}
                          value={form.iban}
                          maxLength={42}
                          aria-describedby={[describedBy, checkIban(form.iban) === 'valid' ? 'iban-ok' : ''].filter(Boolean).join(' ') || undefined}
                          aria-invalid={invalid ? 'true' : undefined}
                          onInput={(e) => {
                            set('iban')(groupIban((e.currentTarget as HTMLInputElement).value));
                            setLocal((l) => l.filter((x) => x.field !== 'iban'));
                          }}
                          onBlur={() => setIbanTouched(true)}
                        />
                      )}
                    </Field>
                    {checkIban(form.iban) === 'valid' && (
                      <p class="field-ok" id="iban-ok">
                        {T.structure.ibanOk}
                      </p>
                    )}
                    <TextField name="bic" label={T.structure.bic} hint={T.structure.bicHint} class="input-short" value={form.bic} onValue={set('bic')} error={errorOf('bic')} maxLength={11} spellcheck={false} />
                    <TextField name="bank_holder" label={T.structure.holder} value={form.bank_holder} onValue={set('bank_holder')} error={errorOf('bank_holder')} maxLength={200} />
                    <div class="button-row">
                      <button type="submit" class="button" disabled={submission.busy}>
                        {submission.busy ? T.structure.saving : T.structure.save}
                      </button>
                    </div>
                  </form>
                  <h2>{T.structure.imagesTitle}</h2>
                  <ImageUpload slot="logo" current={s.logo_url} onDone={() => void data.reload()} />
                  <ImageUpload slot="cover" current={s.cover_url} onDone={() => void data.reload()} />
                </>
              ) : (
                <ReadOnly s={s} />
              )}
            </div>
            <Preview form={form} category={s.category} logo={s.logo_url} cover={s.cover_url} />
          </div>
        </>
      )}
    </Page>
  );
}
