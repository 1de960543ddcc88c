/* charts.tsx - the charts of the web apps, drawn in the page as SVG (no chart
 * library, no style attribute: the CSP forbids inline style, SVG presentation
 * attributes are not style). Each chart is a <figure> with its title, a short
 * text summary that says what the picture shows, the picture itself (named by
 * the title and the summary for assistive technology, its parts hidden from
 * it) and the same numbers as a <table> with its caption, opened under the
 * chart with a native <details>. Series are told apart by a hatching as well
 * as a colour, and named in a legend in words: never by colour alone. Every
 * number reaches the page through shared/format.ts.
 *
 * The SVG is drawn at the width its box has on screen (a ResizeObserver), so
 * that its text keeps its size on a 390 px phone instead of shrinking with a
 * scaled viewBox. */
import type { ComponentChildren, RefObject } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import './charts.css';
import { formatCents, formatWholeEuros } from './format';

/** One series of values (a category, a state): its key and its name. */
export interface Series {
  key: string;
  label: string;
}

/** The table alternative: its caption, its column headers, and one row per
 * line, each with its header cell and its cells already formatted. */
export interface ChartTable {
  caption: string;
  columns: string[];
  rows: Array<{ header: string; cells: string[] }>;
}

/** The words every chart needs; the caller takes them from its catalogue. */
export interface ChartWords {
  /** The <summary> of the table's <details>: "Voir les données en tableau". */
  showTable: string;
  /** Said instead of the picture when there is nothing to draw. */
  empty: string;
  /** Names the legend for assistive technology: "Légende". */
  legend: string;
}

// Colours with at least 3:1 against white (WCAG 1.4.11 for graphics); each
// series past the first also gets its own white hatching.
const COLOURS = ['#1f3f8f', '#a3470b', '#1e6b34', '#6b2c91', '#b3261e', '#0b6374', '#4a4f57', '#7a5b00'];
const HATCHES = ['', 'M0,8 L8,0', 'M0,4 L8,4', 'M4,0 L4,8', 'M0,0 L8,8', 'M0,8 L8,0 M0,0 L8,8', 'M0,2 L8,2 M0,6 L8,6', 'M2,0 L2,8 M6,0 L6,8'];

function colourOf(index: number): string {
  return COLOURS[index % COLOURS.length]!;
}

/** The fill of series `index`: its colour, or its hatched pattern. */
function fillOf(prefix: string, index: number): string {
  return HATCHES[index % HATCHES.length] ? `url(#${prefix}-p${index})` : colourOf(index);
}

function Patterns(props: { prefix: string; count: number }) {
  const patterns = [];
  for (let i = 0; i < props.count; i++) {
    const hatch = HATCHES[i % HATCHES.length];
    if (!hatch) continue;
    patterns.push(
      <pattern key={i} id={`${props.prefix}-p${i}`} width="8" height="8" patternUnits="userSpaceOnUse">
        <rect width="8" height="8" fill={colourOf(i)} />
        <path d={hatch} stroke="#ffffff" stroke-width="1.5" stroke-opacity="0.75" />
      </pattern>,
    );
  }
  return <defs>{patterns}</defs>;
}

/** The width in CSS pixels of an element, followed as the window changes. */
function useWidth(initial: number): [RefObject<HTMLDivElement>, number] {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(initial);
  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const measure = () => {
      const next = Math.floor(element.getBoundingClientRect().width);
      if (next > 0) setWidth((old) => (Math.abs(old - next) >= 2 ? next : old));
    };
    measure();
    if (typeof ResizeObserver === 'undefined') {
      window.addEventListener('resize', measure);
      return () => window.removeEventListener('resize', measure);
    }
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [box, width];
}

/** Round steps for an axis: 1, 2 or 5 times a power of ten, at most `ticks` of them. */
export function niceTicks(max: number, ticks: number): number[] {
  if (!(max > 0)) return [0];
  const rough = max / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const out: number[] = [];
  for (let v = 0; v < max + step && out.length <= ticks + 1; v += step) out.push(v);
  return out;
}

function Legend(props: { prefix: string; series: Series[]; label: string }) {
  return (
    <ul class="chart-legend" aria-label={props.label}>
      {props.series.map((s, i) => (
        <li key={s.key}>
          <svg width="16" height="16" aria-hidden="true" focusable="false">
            <rect x="0.5" y="0.5" width="15" height="15" fill={fillOf(props.prefix, i)} stroke={colourOf(i)} />
          </svg>
          {s.label}
        </li>
      ))}
    </ul>
  );
}

function DataTable(props: { table: ChartTable; words: ChartWords; open?: boolean }) {
  const t = props.table;
  return (
    <details class="chart-table" open={props.open}>
      <summary>{props.words.showTable}</summary>
      {/* The title shown above the scrolling box, where a phone shows all of
          it; screen readers have the caption, so it is said once. */}
      <p class="chart-table-title" aria-hidden="true">
        {t.caption}
      </p>
      {/* Focusable so that a keyboard can scroll a table wider than the chart. */}
      <div class="table-wrap" tabIndex={0} role="region" aria-label={t.caption}>
        <table class="data">
          <caption class="visually-hidden">{t.caption}</caption>
          <thead>
            <tr>
              {t.columns.map((c, i) => (
                <th key={i} scope="col" class={i > 0 ? "amount" : undefined}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {t.rows.map((r, i) => (
              <tr key={i}>
                <th scope="row">{r.header}</th>
                {r.cells.map((c, j) => (
                  <td key={j} class="amount">
                    {c}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** The frame every chart shares: title, summary, picture, table. */
function ChartFrame(props: {
  id: string;
  title: string;
  summary: string;
  headingLevel?: 2 | 3;
  table: ChartTable;
  words: ChartWords;
  empty: boolean;
  legend?: ComponentChildren;
  children: ComponentChildren;
  testId?: string;
}) {
  const Heading = props.headingLevel === 3 ? 'h3' : 'h2';
  return (
    <figure class="chart" aria-labelledby={`${props.id}-title`} data-testid={props.testId}>
      <Heading id={`${props.id}-title`} class="chart-title">
        {props.title}
      </Heading>
      <p id={`${props.id}-summary`} class="chart-summary">
        {props.summary}
      </p>
      {props.empty ? <p class="chart-empty">{props.words.empty}</p> : props.children}
      {!props.empty && props.legend}
      <DataTable table={props.table} words={props.words} />
    </figure>
  );
}

/** What every chart says around its picture. */
interface FrameWords {
  title: string;
  summary: string;
  words: ChartWords;
  table: ChartTable;
  headingLevel?: 2 | 3;
  testId?: string;
}

function frameOf(props: FrameWords, id: string) {
  return { id, title: props.title, summary: props.summary, headingLevel: props.headingLevel, table: props.table, words: props.words, testId: props.testId };
}

export interface BarChartProps extends FrameWords {
  /** The bars along the axis (days, categories, months), in order. */
  groups: Array<{ key: string; label: string }>;
  series: Series[];
  /** The value in cents of one series in one group. */
  value: (group: string, series: string) => number;
  /** Stacked (one bar per group, its series on top of each other) or side by side. */
  mode: 'stacked' | 'grouped';
  /** Label at most every n-th group on the axis (fewer when narrow). */
  labelEvery?: number;
  /** Words of a bar's tooltip: "Sport, 12/11/2026 : 12,50 €". */
  describe: (group: string, series: string, cents: number) => string;
}

const MARGIN = { top: 12, right: 12, bottom: 34, left: 72 };
const LABEL_PX = 56;

/** Bars of cents per group, stacked or grouped by series, with a euro axis. */
export function BarChart(props: BarChartProps) {
  const id = `chart${useId().replace(/[^A-Za-z0-9_-]/g, '')}`;
  const [box, width] = useWidth(640);
  const height = width < 480 ? 220 : 280;
  const plotW = Math.max(40, width - MARGIN.left - MARGIN.right);
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const totals = props.groups.map((g) =>
    props.mode === 'stacked'
      ? props.series.reduce((sum, s) => sum + Math.max(0, props.value(g.key, s.key)), 0)
      : Math.max(0, ...props.series.map((s) => props.value(g.key, s.key))),
  );
  const max = Math.max(0, ...totals);
  const ticks = niceTicks(max, height < 250 ? 4 : 5);
  const top = ticks[ticks.length - 1]! || 1;
  const y = (cents: number) => MARGIN.top + plotH - (Math.max(0, cents) / top) * plotH;
  const band = plotW / Math.max(1, props.groups.length);
  const gap = Math.min(band * 0.2, 12);
  // Axis labels at least LABEL_PX apart, whatever the width: fewer on a phone.
  const every = Math.max(props.labelEvery ?? 1, Math.ceil(LABEL_PX / band));
  const bars = [];
  for (let gi = 0; gi < props.groups.length; gi++) {
    const g = props.groups[gi]!;
    const x0 = MARGIN.left + gi * band + gap / 2;
    const inner = band - gap;
    let base = 0;
    for (let si = 0; si < props.series.length; si++) {
      const s = props.series[si]!;
      const cents = Math.max(0, props.value(g.key, s.key));
      if (cents === 0) continue;
      const x = props.mode === 'stacked' ? x0 : x0 + (inner / props.series.length) * si;
      const w = props.mode === 'stacked' ? inner : inner / props.series.length;
      const yTop = y(base + cents);
      const yBottom = y(base);
      bars.push(
        <rect
          key={`${g.key}-${s.key}`}
          x={x.toFixed(1)}
          y={yTop.toFixed(1)}
          width={Math.max(2, w - (props.mode === "grouped" ? 1 : 0)).toFixed(1)}
          height={Math.max(1, yBottom - yTop).toFixed(1)}
          fill={fillOf(id, si)}
        >
          <title>{props.describe(g.key, s.key, cents)}</title>
        </rect>,
      );
      if (props.mode === 'stacked') base += cents;
    }
  }
  const labels = props.groups.map((g, gi) =>
    gi % every === 0 ? (
      <text key={g.key} x={(MARGIN.left + gi * band + band / 2).toFixed(1)} y={height - MARGIN.bottom + 18} text-anchor="middle" class="chart-axis">
        {g.label}
      </text>
    ) : null,
  );
  return (
    <ChartFrame
      {...frameOf(props, id)}
      empty={max === 0}
      legend={props.series.length > 1 ? <Legend prefix={id} series={props.series} label={props.words.legend} /> : undefined}
    >
      <div class="chart-box" ref={box}>
        <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-title ${id}-summary`} focusable="false">
          <Patterns prefix={id} count={props.series.length} />
          {ticks.map((t) => (
            <g key={t}>
              <line x1={MARGIN.left} x2={width - MARGIN.right} y1={y(t)} y2={y(t)} class={t === 0 ? 'chart-baseline' : 'chart-grid'} />
              <text x={MARGIN.left - 6} y={y(t) + 4} text-anchor="end" class="chart-axis">
                {formatWholeEuros(t)}
              </text>
            </g>
          ))}
          {bars}
          {labels}
        </svg>
      </div>
    </ChartFrame>
  );
}

export interface BarListProps extends FrameWords {
  items: Array<{ key: string; label: string; cents: number; href?: string }>;
}

/** A ranked list drawn as horizontal bars: each line says its name and its
 * amount in words, the bar only shows the proportion. */
export function BarList(props: BarListProps) {
  const id = `chart${useId().replace(/[^A-Za-z0-9_-]/g, '')}`;
  const max = Math.max(0, ...props.items.map((i) => i.cents));
  return (
    <ChartFrame {...frameOf(props, id)} empty={props.items.length === 0 || max === 0}>
      <ol class="bar-list">
        {props.items.map((item) => (
          <li key={item.key}>
            <span class="bar-list-label">{item.href ? <a href={item.href}>{item.label}</a> : item.label}</span>
            <span class="bar-list-amount">{formatCents(item.cents)}</span>
            <svg class="bar-list-bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
              <rect x="0" y="0" width="100" height="10" class="bar-list-track" />
              <rect x="0" y="0" width={Math.max(0.5, (item.cents / max) * 100).toFixed(2)} height="10" fill={colourOf(0)} />
            </svg>
          </li>
        ))}
      </ol>
    </ChartFrame>
  );
}
