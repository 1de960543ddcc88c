/* import.tsx - enrolling beneficiaries from a CSV file, in three steps: the
 * file and the allocation are checked (`POST /api/v1/beneficiaries/imports?
 * dry_run=true`, nothing written) and every problem shown by line and field;
 * then the valid lines are enrolled and credited (`POST .../imports`, one
 * Idempotency-Key for the submission), the progress read from
 * `GET .../imports/{import_id}` until it is done; then the result. The
 * import's id is kept in the address (`?import=`), so a reload keeps
 * following it. */
import '../figures.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, call, type ApiError } from '../../shared/api';
import { announce } from '../../shared/announce';
import { categoryLabel, USUAL_CATEGORIES } from '../../shared/categories.fr';
import { formatCents, formatCount, parseDay, parseEuros } from '../../shared/format';
import { setQuery } from '../../shared/router';
import { ErrorSummary, errorsOf, Notice, Page, SelectField, TextField, useSubmission, type FieldError } from '../../shared/ui';
import { BASE, type Schemas } from '../data';
import { F } from '../strings-figures.fr';

const I = F.import;
const FILE_BYTES_MAX = 2 * 1024 * 1024;
const POLL_MS = 1000;
const UPLOAD_TIMEOUT_MS = 60000;

export type ImportProblem = Schemas['ImportProblem'];
export type ImportReport = Schemas['ImportReport'];
export type ImportJob = Schemas['ImportJob'];

interface Allocation {
  category: string;
  amount_cents: number;
  end_date?: string;
}

/** The CSV goes as the body, the allocation in the query; the dry run
 * answers a report, the run (with its key) the job it started. */
function check(file: Blob, allocation: Allocation): Promise<ImportReport> {
  return call('post', '/api/v1/beneficiaries/imports', { blob: csvOf(file), query: { ...allocation, dry_run: 'true' }, timeoutMs: UPLOAD_TIMEOUT_MS }) as Promise<ImportReport>;
}

function start(file: Blob, allocation: Allocation, key: string): Promise<ImportJob> {
  return call('post', '/api/v1/beneficiaries/imports', { blob: csvOf(file), query: { ...allocation }, key, timeoutMs: UPLOAD_TIMEOUT_MS }) as Promise<ImportJob>;
}

function csvOf(file: Blob): Blob {
  return new Blob([file], { type: 'text/csv' });
}

function readJob(importId: string): Promise<ImportJob> {
  return call('get', '/api/v1/beneficiaries/imports/{import_id}', { params: { import_id: importId } });
}

function ProblemsTable(props: { problems: ImportProblem[] }) {
  if (props.problems.length === 0) return null;
  return (
    <div class="table-wrap">
      <table class="data responsive" data-testid="import-problems">
        <caption>{I.problemsCaption}</caption>
        <thead>
          <tr>
            <th scope="col">{I.colLine}</th>
            <th scope="col">{I.colField}</th>
            <th scope="col">{I.colProblem}</th>
          </tr>
        </thead>
        <tbody>
          {props.problems.map((p, i) => (
            <tr key={`${p.line}-${p.field}-${i}`} data-line={p.line}>
              <th scope="row" data-label={I.colLine}>
                {p.line > 0 ? formatCount(p.line) : I.fileLevel}
              </th>
              <td data-label={I.colField}>{I.fields[p.field] ?? p.field}</td>
              <td data-label={I.colProblem}>{p.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Follows a running import until it is done; its bar and its numbers. */
function Progress(props: { importId: string; onRestart: () => void }) {
  const [job, setJob] = useState<ImportJob | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    let current = true;
    let timer = 0;
    async function poll() {
      try {
        const next = await readJob(props.importId);
        if (!current) return;
        setJob(next);
        setError(null);
        if (next.state === 'done') {
          announce(I.doneAnnounce(next.enrolled));
          return;
        }
      } catch (e) {
        if (!current) return;
        setError(asApiError(e));
      }
      timer = window.setTimeout(() => void poll(), POLL_MS);
    }
    void poll();
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [props.importId]);
  useEffect(() => {
    if (job?.state === 'done') heading.current?.focus();
  }, [job?.state]);
  const done = job?.state === 'done';
  return (
    <section aria-labelledby="import-progress-title" data-testid="import-progress" data-state={job?.state ?? 'loading'}>
      <h2 id="import-progress-title" tabIndex={-1} ref={heading}>
        {done ? I.doneTitle : I.running}
      </h2>
      {error && <Notice kind="warning" title={I.followFailed} role="status" />}
      {job && (
        <>
          <label for="import-bar" class="progress-label">
            {I.progressLabel}
          </label>
          <progress id="import-bar" max={Math.max(1, job.lines_total)} value={job.lines_done} aria-describedby="import-bar-text" />
          <p id="import-bar-text" class="progress-text">
            {I.progress(job.lines_done, job.lines_total)}
          </p>
        </>
      )}
      {job && done && (
        <>
          <table class="data result-table" data-testid="import-result">
            <caption>{I.resultCaption}</caption>
            <tbody>
              {(
                [
                  ['enrolled', I.enrolled, job.enrolled],
                  ['credited', I.creditedCount, job.credited],
                  ['skipped', I.skipped, job.skipped],
                  ['failed', I.failed, job.failed],
                ] as Array<[string, string, number]>
              ).map(([key, label, value]) => (
                <tr key={key}>
                  <th scope="row">{label}</th>
                  <td class="amount" data-testid={`import-${key}`}>
                    {formatCount(value)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <ProblemsTable problems={job.problems} />
          <div class="button-row">
            <button type="button" class="button" onClick={props.onRestart}>
              {I.another}
            </button>
            <a href={`${BASE}/beneficiaires`}>{I.toBeneficiaries}</a>
          </div>
        </>
      )}
    </section>
  );
}

function Report(props: { report: ImportReport; allocation: Allocation; file: File; onStarted: (id: string) => void }) {
  const r = props.report;
  const submission = useSubmission();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [r]);
  async function run() {
    const job = await submission.run((key) => start(props.file, props.allocation, key));
    if (job) props.onStarted(job.import_id);
  }
  const api = errorsOf(submission.error, []);
  return (
    <section aria-labelledby="import-report-title" data-testid="import-report">
      <h2 id="import-report-title" tabIndex={-1} ref={heading}>
        {I.reportTitle}
      </h2>
      <p class="totals" data-testid="import-lines">
        {I.reportLines(r.lines_valid, r.lines_total)}
      </p>
      <p class="muted">{I.reportFormat(I.encodings[r.encoding] ?? r.encoding, I.delimiters[r.delimiter] ?? `« ${r.delimiter} »`)}</p>
      {r.problems.length === 0 ? (
        <Notice kind="success" title={I.allGood} />
      ) : (
        <>
          <h3>{I.problemsTitle(r.problems_total)}</h3>
          <p>{I.problemsLead}</p>
          {r.problems_total > r.problems.length && <p>{I.problemsFirst(formatCount(r.problems.length))}</p>}
          <ProblemsTable problems={r.problems} />
        </>
      )}
      {api.general && <Notice kind="error" title={api.general} role="alert" />}
      {r.lines_valid > 0 ? (
        <div class="button-row">
          <button type="button" class="button" disabled={submission.busy} onClick={() => void run()}>
            {submission.busy ? I.running : I.run(r.lines_valid, formatCents(props.allocation.amount_cents))}
          </button>
        </div>
      ) : (
        <p>{I.nothingToRun}</p>
      )}
    </section>
  );
}

export function ImportPage(props: { query: URLSearchParams }) {
  const running = props.query.get('import');
  const [file, setFile] = useState<File | null>(null);
  const [category, setCategory] = useState('general');
  const [amount, setAmount] = useState('');
  const [endDate, setEndDate] = useState('');
  const [local, setLocal] = useState<Record<string, string>>({});
  const [checked, setChecked] = useState<{ report: ImportReport; allocation: Allocation; file: File } | null>(null);
  const submission = useSubmission();
  const fields = ['file', 'category', 'amount_cents', 'end_date'];
  const api = errorsOf(submission.error, fields);
  const byField = { ...api.byField, ...local };
  const summary: FieldError[] = Object.entries(byField).map(([field, text]) => ({ field, text }));

  if (running) {
    return (
      <Page title={I.title} wide>
        <Progress
          importId={running}
          onRestart={() => {
            setChecked(null);
            setFile(null);
            setQuery({});
          }}
        />
      </Page>
    );
  }

  async function submit(e: Event) {
    e.preventDefault();
    const problems: Record<string, string> = {};
    const cents = parseEuros(amount);
    const day = endDate.trim() ? parseDay(endDate) : null;
    if (!file) problems.file = I.fileMissing;
    else if (file.size > FILE_BYTES_MAX) problems.file = I.fileTooBig;
    if (cents === null || cents <= 0) problems.amount_cents = I.amountInvalid;
    if (endDate.trim() && !day) problems.end_date = I.endDateInvalid;
    setLocal(problems);
    setChecked(null);
    if (Object.keys(problems).length > 0 || !file || cents === null) return;
    const allocation: Allocation = { category, amount_cents: cents, end_date: day ?? undefined };
    const report = await submission.run(() => check(file, allocation));
    if (report) setChecked({ report, allocation, file });
  }
  return (
    <Page title={I.title} lead={I.lead} wide>
      <details class="help">
        <summary>{I.formatTitle}</summary>
        <ul>
          {I.format.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </details>
      <form class="form" noValidate onSubmit={(e) => void submit(e)}>
        <ErrorSummary errors={summary} general={api.general} />
        <div class={`field${byField.file ? ' field-error' : ''}`}>
          <label for="f-file">{I.file}</label>
          <p class="hint" id="f-file-hint">
            {I.fileHint}
          </p>
          {byField.file && (
            <p class="error-message" id="f-file-error">
              <span class="visually-hidden">Erreur : </span>
              {byField.file}
            </p>
          )}
          <input
            type="file"
            id="f-file"
            name="file"
            accept=".csv,text/csv"
            aria-describedby={byField.file ? 'f-file-hint f-file-error' : 'f-file-hint'}
            aria-invalid={byField.file ? 'true' : undefined}
            onChange={(e) => {
              setFile(e.currentTarget.files?.[0] ?? null);
              setChecked(null);
            }}
          />
        </div>
        <SelectField name="category" label={I.category} error={byField.category} value={category} onValue={setCategory} options={USUAL_CATEGORIES.map((c) => [c, categoryLabel(c)])} />
        <TextField name="amount_cents" label={I.amount} hint={I.amountHint} error={byField.amount_cents} value={amount} onValue={setAmount} inputMode="decimal" class="input-short" />
        <TextField name="end_date" label={I.endDate} hint={I.endDateHint} error={byField.end_date} value={endDate} onValue={setEndDate} inputMode="numeric" class="input-short" />
        <div class="button-row">
          <button type="submit" class="button button-secondary" disabled={submission.busy}>
            {submission.busy ? I.checking : I.check}
          </button>
        </div>
      </form>
      {checked && <Report report={checked.report} allocation={checked.allocation} file={checked.file} onStarted={(id) => setQuery({ import: id })} />}
    </Page>
  );
}
