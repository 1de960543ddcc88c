/* dashboard.tsx - the console's first page, for the back-office and finance:
 * key figures, then four charts of `GET /api/v1/dashboard` (payments per day
 * by category, the budget by category, the partners owed most, refunds per
 * month), each with its summary and its table (shared/charts.tsx). The
 * period is in the address (`?jours=`). */
import '../figures.css';
import { call, type Answer } from '../../shared/api';
import { BarChart, BarList, type ChartTable } from '../../shared/charts';
import { categoryLabel } from '../../shared/categories.fr';
import { formatCents, formatCount, formatDateTime, formatDay, formatDayShort, formatMonth, formatMonthShort, parisToday } from '../../shared/format';
import { useEffect, useState } from 'preact/hooks';
import { useLoad } from '../../shared/load';
import { setQuery } from '../../shared/router';
import { LoadError, Loading, Notice, Page } from '../../shared/ui';
import { BASE } from '../data';
import { F } from '../strings-figures.fr';
import { T } from '../strings.fr';

export type Dashboard = Answer<'/api/v1/dashboard', 'get'>;

export function loadDashboard(days: number): Promise<Dashboard> {
  return call('get', '/api/v1/dashboard', { query: { days } });
}

const DAYS_ALLOWED = ['30', '90', '365'];
const W = F.chart;
const D = F.dashboard;

/** The `count` days that end on `last` (YYYY-MM-DD), oldest first. */
export function daysEnding(last: string, count: number): string[] {
  const [y, m, d] = last.split('-').map(Number) as [number, number, number];
  const out: string[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(new Date(Date.UTC(y, m - 1, d - i)).toISOString().slice(0, 10));
  return out;
}

function KeyFigures(props: { data: Dashboard; days: number }) {
  const data = props.data;
  const paid = data.payments_by_day.reduce((sum, p) => sum + p.amount_cents, 0);
  const count = data.payments_by_day.reduce((sum, p) => sum + p.count, 0);
  const available = data.budget.reduce((sum, b) => sum + b.available_cents, 0);
  const credited = data.budget.reduce((sum, b) => sum + b.credited_cents, 0);
  const pending = data.refunds_by_month.reduce((sum, r) => sum + r.pending_cents, 0);
  const pendingCount = data.refunds_by_month.reduce((sum, r) => sum + r.pending_count, 0);
  const figures: Array<[string, string, string, string]> = [
    ['paid', D.paid, formatCents(paid), D.paidHint(count, props.days)],
    ['available', D.available, formatCents(available), D.availableHint],
    ['credited', D.credited, formatCents(credited), D.creditedHint],
    ['pending', D.pendingRefunds, formatCents(pending), D.pendingHint(pendingCount)],
  ];
  return (
    <section aria-labelledby="key-figures">
      <h2 id="key-figures" class="visually-hidden">
        {D.keyFigures}
      </h2>
      <dl class="key-figures">
        {figures.map(([key, label, value, hint]) => (
          <div class="key-figure" key={key}>
            <dt>{label}</dt>
            <dd class="key-figure-value" data-testid={`figure-${key}`}>
              {value}
            </dd>
            <dd class="key-figure-hint">{hint}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function PaymentsByDay(props: { data: Dashboard; days: number }) {
  const data = props.data;
  const days = daysEnding(parisToday(new Date(data.as_of)), props.days);
  const categories = [...new Set(data.payments_by_day.map((p) => p.category))].sort();
  const cell = new Map<string, number>();
  const perDay = new Map<string, number>();
  for (const p of data.payments_by_day) {
    cell.set(`${p.day}|${p.category}`, (cell.get(`${p.day}|${p.category}`) ?? 0) + p.amount_cents);
    perDay.set(p.day, (perDay.get(p.day) ?? 0) + p.amount_cents);
  }
  const total = [...perDay.values()].reduce((a, b) => a + b, 0);
  const count = data.payments_by_day.reduce((a, p) => a + p.count, 0);
  let bestDay = '';
  let best = 0;
  for (const [day, cents] of perDay) if (cents > best) [bestDay, best] = [day, cents];
  const series = categories.map((c) => ({ key: c, label: categoryLabel(c) }));
  const table: ChartTable = {
    caption: D.byDayCaption,
    columns: [D.colDay, ...series.map((s) => s.label), D.colTotal],
    rows: days
      .filter((day) => perDay.has(day))
      .reverse()
      .map((day) => ({
        header: formatDay(day),
        cells: [...categories.map((c) => formatCents(cell.get(`${day}|${c}`) ?? 0)), formatCents(perDay.get(day) ?? 0)],
      })),
  };
  return (
    <BarChart
      testId="chart-payments"
      title={D.byDayTitle(formatCount(props.days))}
      summary={total > 0 ? D.byDaySummary(formatCents(total), count, formatCents(best), formatDay(bestDay)) : D.byDayEmpty}
      words={W}
      table={table}
      mode="stacked"
      groups={days.map((day) => ({ key: day, label: formatDayShort(day) }))}
      series={series}
      value={(day, category) => cell.get(`${day}|${category}`) ?? 0}
      describe={(day, category, cents) => D.bar(categoryLabel(category), formatDay(day), formatCents(cents))}
    />
  );
}

const BUDGET_SERIES = ['credited_cents', 'spent_cents', 'expired_cents', 'available_cents'] as const;
// The table adds what exchange vouchers hold, so that its columns add up.
const BUDGET_TABLE = ['credited_cents', 'spent_cents', 'expired_cents', 'reserved_cents', 'available_cents'] as const;

function Budget(props: { data: Dashboard }) {
  const rows = props.data.budget;
  const sum = (k: (typeof BUDGET_TABLE)[number]) => rows.reduce((a, r) => a + r[k], 0);
  const byCategory = new Map(rows.map((r) => [r.category, r]));
  return (
    <BarChart
      testId="chart-budget"
      title={D.budgetTitle}
      summary={D.budgetSummary(formatCents(sum('credited_cents')), formatCents(sum('spent_cents')), formatCents(sum('expired_cents')), formatCents(sum('reserved_cents')), formatCents(sum('available_cents')))}
      words={W}
      table={{
        caption: D.budgetCaption,
        columns: [D.colCategory, ...BUDGET_TABLE.map((k) => D[k])],
        rows: rows.map((r) => ({ header: categoryLabel(r.category), cells: BUDGET_TABLE.map((k) => formatCents(r[k])) })),
      }}
      mode="grouped"
      groups={rows.map((r) => ({ key: r.category, label: categoryLabel(r.category) }))}
      series={BUDGET_SERIES.map((k) => ({ key: k, label: D[k] }))}
      value={(category, key) => byCategory.get(category)?.[key as (typeof BUDGET_SERIES)[number]] ?? 0}
      describe={(category, key, cents) => D.bar(D[key as (typeof BUDGET_SERIES)[number]], categoryLabel(category), formatCents(cents))}
    />
  );
}

function OwedMost(props: { data: Dashboard; linkPartners: boolean }) {
  const items = props.data.partners_owed_most.filter((p) => p.owed_cents > 0);
  const total = items.reduce((a, p) => a + p.owed_cents, 0);
  const first = items[0];
  return (
    <BarList
      testId="chart-owed"
      title={D.owedTitle}
      summary={first ? D.owedSummary(first.name, formatCents(first.owed_cents), formatCents(total), items.length) : F.refunds.owedNone}
      words={W}
      table={{
        caption: D.owedCaption,
        columns: [D.colPartner, D.colOwed],
        rows: items.map((p) => ({ header: p.name, cells: [formatCents(p.owed_cents)] })),
      }}
      items={items.map((p) => ({
        key: p.partner_id,
        label: p.name,
        cents: p.owed_cents,
        href: props.linkPartners ? `${BASE}/partenaires/${p.partner_id}` : undefined,
      }))}
    />
  );
}

function RefundsByMonth(props: { data: Dashboard }) {
  const months = props.data.refunds_by_month;
  const byMonth = new Map(months.map((m) => [m.month, m]));
  const pending = months.reduce((a, m) => a + m.pending_cents, 0);
  const paid = months.reduce((a, m) => a + m.paid_cents, 0);
  const series = [
    { key: 'pending', label: D.pending },
    { key: 'paid', label: D.paidRefunds },
  ];
  return (
    <BarChart
      testId="chart-refunds"
      title={D.refundsTitle}
      summary={D.refundsSummary(formatCents(pending), formatCents(paid), formatCount(months.length))}
      words={W}
      table={{
        caption: D.refundsCaption,
        columns: [D.colMonth, D.colPendingCount, D.colPendingCents, D.colPaidCount, D.colPaidCents],
        rows: months.map((m) => ({
          header: formatMonth(m.month),
          cells: [formatCount(m.pending_count), formatCents(m.pending_cents), formatCount(m.paid_count), formatCents(m.paid_cents)],
        })),
      }}
      mode="grouped"
      groups={months.map((m) => ({ key: m.month, label: formatMonthShort(m.month) }))}
      series={series}
      value={(month, key) => {
        const m = byMonth.get(month);
        return m ? (key === 'pending' ? m.pending_cents : m.paid_cents) : 0;
      }}
      describe={(month, key, cents) => D.bar(key === 'pending' ? D.pending : D.paidRefunds, formatMonth(month), formatCents(cents))}
    />
  );
}

/** The period shown. The choice is the person's own until "Afficher": the
 * figures arriving meanwhile draw the page again, and a select bound to the
 * address alone would go back to the period shown. */
function PeriodForm(props: { days: number }) {
  const [chosen, setChosen] = useState(String(props.days));
  useEffect(() => setChosen(String(props.days)), [props.days]);
  return (
    <form
      class="period-form"
      onSubmit={(e) => {
        e.preventDefault();
        setQuery({ jours: chosen !== '90' ? chosen : undefined });
      }}
    >
      <label for="dashboard-days">{D.period}</label>
      <select id="dashboard-days" name="jours" value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>
        {D.periods.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
      <button type="submit" class="button button-secondary button-small">
        {D.show}
      </button>
    </form>
  );
}

/** The console's first page: `welcome` is the activation or reset link's
 * `?bienvenue=` (1 activated, 2 password changed), said on top. */
export function DashboardPage(props: { query: URLSearchParams; backoffice: boolean; welcome?: string | null }) {
  const asked = props.query.get('jours') ?? '90';
  const days = Number(DAYS_ALLOWED.includes(asked) ? asked : '90');
  const load = useLoad(() => loadDashboard(days), [days]);
  const data = load.value;
  return (
    <Page title={D.title} lead={D.lead} wide>
      {props.welcome === '1' && (
        <Notice kind="success" role="status">
          {T.welcome.activated}
        </Notice>
      )}
      {props.welcome === '2' && (
        <Notice kind="success" role="status">
          {T.welcome.passwordChanged}
        </Notice>
      )}
      <PeriodForm days={days} />
      {load.loading && !data && <Loading />}
      {load.error && <LoadError error={load.error} retry={() => void load.reload()} />}
      {data && (
        <>
          <p class="muted" data-testid="as-of">
            {D.asOf(formatDateTime(data.as_of))}
          </p>
          <KeyFigures data={data} days={days} />
          <PaymentsByDay data={data} days={days} />
          <Budget data={data} />
          <OwedMost data={data} linkPartners={props.backoffice} />
          <RefundsByMonth data={data} />
          <p>
            <a href={`${BASE}/remboursements`}>{D.toRefunds}</a>
            {props.backoffice && (
              <>
                {' · '}
                <a href={`${BASE}/beneficiaires/import`}>{D.toImport}</a>
              </>
            )}
          </p>
        </>
      )}
    </Page>
  );
}
