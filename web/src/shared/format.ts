/* format.ts - the one formatter of the web apps: every amount, date and time a
 * person reads goes through here, in French and in Europe/Paris whatever the
 * device's own zone. Amounts are integer cents, as the API gives them. */

const TIME_ZONE = 'Europe/Paris';
const euros = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' });
const dayFormat = new Intl.DateTimeFormat('fr-FR', { timeZone: TIME_ZONE, day: '2-digit', month: '2-digit', year: 'numeric' });
const timeFormat = new Intl.DateTimeFormat('fr-FR', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit' });
const isoDayParts = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

/** `1 234,50 €` from 123450. */
export function formatCents(cents: number): string {
  return euros.format(cents / 100);
}

/** `12,50` (no currency), for an amount typed back into a field. */
export function centsToInput(cents: number): string {
  return (cents / 100).toFixed(2).replace('.', ',');
}

/** Cents from what a person types: `12`, `12,5`, `12.50`, `1 234,50 €`;
 * null when it is not an amount with at most two decimals. */
export function parseEuros(text: string): number | null {
  const cleaned = text.replace(/[\s\u00a0\u202f€]/g, '').replace(',', '.');
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(cleaned)) return null;
  const [whole, fraction = ''] = cleaned.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** `JJ/MM/AAAA` of an instant (ISO 8601) in Paris. */
export function formatDate(instant: string | null | undefined): string {
  if (!instant) return '–';
  return dayFormat.format(new Date(instant));
}

/** `HH:MM` of an instant in Paris. */
export function formatTime(instant: string | null | undefined): string {
  if (!instant) return '–';
  return timeFormat.format(new Date(instant));
}

/** `JJ/MM/AAAA à HH:MM` of an instant in Paris. */
export function formatDateTime(instant: string | null | undefined): string {
  if (!instant) return '–';
  return `${formatDate(instant)} à ${formatTime(instant)}`;
}

/** `JJ/MM/AAAA` of a calendar day `YYYY-MM-DD` (no zone involved). */
export function formatDay(day: string | null | undefined): string {
  if (!day) return '–';
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return match ? `${match[3]}/${match[2]}/${match[1]}` : day;
}

/** `mois AAAA` of a period `YYYY-MM`. */
export function formatMonth(period: string): string {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  if (!match) return period;
  const names = ['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'];
  return `${names[Number(match[2]) - 1] ?? match[2]} ${match[1]}`;
}

/** Today in Paris as `YYYY-MM-DD`. */
export function parisToday(now: Date = new Date()): string {
  return isoDayParts.format(now);
}

/** `1 234 octets`, `12 Kio`, `1,2 Mio`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} octets`;
  const number = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });
  if (bytes < 1024 * 1024) return `${number.format(bytes / 1024)} Kio`;
  return `${number.format(bytes / (1024 * 1024))} Mio`;
}

/** A count in French digit grouping: `1 000`. */
export function formatCount(count: number): string {
  return new Intl.NumberFormat('fr-FR').format(count);
}

/** A count and its noun, in French digit grouping and agreement: 0 and 1
 * take the singular (`0 demande`, `1 demande`, `1 000 demandes`). */
export function countOf(count: number, one: string, many: string): string {
  return `${formatCount(count)} ${plural(count, one, many)}`;
}

/** The noun's form for a count, by French agreement (0 and 1 singular). */
export function plural(count: number, one: string, many: string): string {
  return count >= 2 ? many : one;
}

/** Digits in groups of four: `4821 0937 5516 2303`, `8386 1484`. */
export function groupDigits(digits: string): string {
  return digits.replace(/(\d{4})(?=\d)/g, '$1 ');
}

/** `YYYY-MM-DD` from a day typed `JJ/MM/AAAA` (also `J/M/AAAA`, `JJ-MM-AAAA`,
 * `JJ.MM.AAAA`); null when it is not a real calendar day. */
export function parseDay(text: string): string | null {
  const match = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(text.trim());
  if (!match) return null;
  const [day, month, year] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** `1 234 €` (whole euros, rounded), for a chart's axis where cents would crowd. */
export function formatWholeEuros(cents: number): string {
  return new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR', maximumFractionDigits: 0, minimumFractionDigits: 0 }).format(Math.round(cents / 100));
}

/** `JJ/MM` of a calendar day `YYYY-MM-DD`, for a chart's axis. */
export function formatDayShort(day: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return match ? `${match[3]}/${match[2]}` : day;
}

/** `MM/AA` of a period `YYYY-MM`, for a chart's axis. */
export function formatMonthShort(period: string): string {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  return match ? `${match[2]}/${match[1]!.slice(2)}` : period;
}
