/* data.ts - the beneficiary app's types (from the generated API
 * description) and what its screens share: the pass, with the last one seen
 * kept on the phone so that the app can show it offline with its time; the
 * partners looked up by code; the payments just made (for their proof). */
import { useEffect, useState } from 'preact/hooks';
import { asApiError, call, type Answer, type ApiError } from '../shared/api';
import type { components } from '../shared/api.gen';
import { parisToday } from '../shared/format';

export type Schemas = components['schemas'];
export type Pass = Answer<'/api/v1/pass', 'get'>;
export type Envelope = Schemas['Envelope'];
export type PassOperation = Schemas['PassOperation'];
export type Payment = Answer<'/api/v1/pass/payments', 'post'>;
export type Voucher = Schemas['Voucher'];
export type DirectoryPartner = Schemas['DirectoryPartner'];

export const BASE = '/beneficiaire';
export const ENDING_DAYS = 30;

/** Closed by the city (the beneficiary left): it no longer pays. A pass
 * kept on the phone before closes existed has no status: open. */
export function passClosed(pass: Pass): boolean {
  return pass.status === 'closed';
}

/* ------------------------------------------------------------- the pass */

export interface SeenPass {
  pass: Pass;
  /** When the server gave it (ISO instant). */
  seenAt: string;
  userId: string;
}

const STORE_KEY = 'solipass.beneficiaire.pass';
let current: SeenPass | null = null;
const listeners = new Set<() => void>();

/** The last pass seen on this phone by this user (offline home). */
export function lastSeenPass(userId: string | null): SeenPass | null {
  if (current && (!userId || current.userId === userId)) return current;
  try {
    const stored = JSON.parse(window.localStorage.getItem(STORE_KEY) ?? 'null') as SeenPass | null;
    if (stored && stored.pass && typeof stored.seenAt === 'string' && (!userId || stored.userId === userId)) return stored;
  } catch {
    // A damaged or blocked store only loses the offline view.
  }
  return null;
}

function remember(seen: SeenPass | null): void {
  current = seen;
  try {
    if (seen) window.localStorage.setItem(STORE_KEY, JSON.stringify(seen));
    else window.localStorage.removeItem(STORE_KEY);
  } catch {
    // Private browsing: the app works, only the offline view is lost.
  }
  for (const listener of listeners) listener();
}

let prefetched: Promise<Pass> | null = null;
let prefetchedPass: Pass | null = null;

/** Asks for the pass while the session is being read (the payment screen
 * opened from a QR code needs both); used once by the next refreshPass or
 * takePrefetchedPass. */
export function prefetchPass(): Promise<unknown> {
  const asked = call('get', '/api/v1/pass');
  prefetched = asked;
  return asked.then((pass) => {
    if (prefetched === asked) prefetchedPass = pass;
  }, () => undefined);
}

/** The prefetched pass when it has already come (the payment screen's
 * first render then shows the amount field at once), remembered as seen. */
export function takePrefetchedPass(userId: string): Pass | null {
  const pass = prefetchedPass;
  if (!pass) return null;
  prefetched = null;
  prefetchedPass = null;
  remember({ pass, seenAt: new Date().toISOString(), userId });
  return pass;
}

/** Reads the pass again from the server (after a payment, on coming back home). */
export async function refreshPass(userId: string): Promise<SeenPass> {
  const early = prefetched;
  prefetched = null;
  prefetchedPass = null;
  const pass = await (early ?? call('get', '/api/v1/pass')).catch(() => call('get', '/api/v1/pass'));
  const seen = { pass, seenAt: new Date().toISOString(), userId };
  remember(seen);
  return seen;
}

/** Logging out leaves nothing of the pass on the phone. */
export function forgetPass(): void {
  remember(null);
  paymentsMade.clear();
}

export function usePass(userId: string): { seen: SeenPass | null; error: ApiError | null; reload: () => void } {
  const [seen, setSeen] = useState<SeenPass | null>(() => lastSeenPass(userId));
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const update = () => setSeen(lastSeenPass(userId));
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, [userId]);
  useEffect(() => {
    refreshPass(userId).then(
      () => setError(null),
      (e: unknown) => setError(asApiError(e)),
    );
  }, [userId, generation]);
  return { seen, error, reload: () => setGeneration((g) => g + 1) };
}

/** Whole days from today (Paris) to a calendar day `YYYY-MM-DD`. */
export function daysUntil(day: string, now: Date = new Date()): number {
  const [y1, m1, d1] = parisToday(now).split('-').map(Number);
  const [y2, m2, d2] = day.split('-').map(Number);
  return Math.round((Date.UTC(y2!, m2! - 1, d2!) - Date.UTC(y1!, m1! - 1, d1!)) / 86400000);
}

/** An envelope with money left that ends within ENDING_DAYS days. */
export function endingSoon(envelope: Envelope, now: Date = new Date()): boolean {
  if (!envelope.end_date || envelope.expired || envelope.balance_cents <= 0) return false;
  const days = daysUntil(envelope.end_date, now);
  return days >= 0 && days <= ENDING_DAYS;
}

/** The envelope that pays a partner of this category: its own, else `general`
 * (the rule of docs/api.md, POST /api/v1/pass/payments). */
export function payingEnvelope(pass: Pass, category: string): Envelope | null {
  return pass.envelopes.find((e) => e.category === category) ?? pass.envelopes.find((e) => e.category === 'general') ?? null;
}

/* ------------------------------------------------------------- partners */

const partners = new Map<string, Promise<DirectoryPartner>>();
/** The partners whose answer has come, for a render that cannot wait. */
export const partnersKnown = new Map<string, DirectoryPartner>();

/** The partner's public information by its code (cached for the page's life). */
export function partnerByCode(code: string): Promise<DirectoryPartner> {
  let found = partners.get(code);
  if (!found) {
    found = call('get', '/api/v1/directory/partners/{partner_code}', { params: { partner_code: code } });
    found.then((partner) => partnersKnown.set(code, partner), () => partners.delete(code));
    partners.set(code, found);
  }
  return found;
}

/* ------------------------------------------------------------- payments */

/** The payments made in this page's life, by operation id: the proof shows
 * them at once (their partner's name and envelope balance included). */
export const paymentsMade = new Map<string, Payment>();

/** Finds an operation in the history (the proof opened again, or reloaded). */
export async function findOperation(operationId: string): Promise<PassOperation | null> {
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const answer = await call('get', '/api/v1/pass/operations', { query: { limit: 200, cursor } });
    const found = answer.operations.find((o) => o.operation_id === operationId);
    if (found) return found;
    if (!answer.next_cursor) return null;
    cursor = answer.next_cursor;
  }
  return null;
}

/** Loads something for a screen: its value, its error, and how to load again. */
export function useLoad<V>(load: () => Promise<V>, deps: unknown[]) {
  const [value, setValue] = useState<V | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load().then(
      (v) => live && setValue(v),
      (e: unknown) => live && setError(asApiError(e)),
    );
    return () => {
      live = false;
    };
  }, [...deps, generation]);
  return { value, error, setValue, reload: () => setGeneration((g) => g + 1) };
}
