/* api.ts - the one HTTP client of the web apps: same origin, the session
 * cookie (never a token in JS), JSON in and out, typed from the OpenAPI
 * description (`api.gen.ts`, generated from docs/openapi.json at build time),
 * a timeout on every call, and every failure normalised into ApiError so that
 * a page only ever handles {status, code, field, message}. */
import type { paths } from './api.gen';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Path = keyof paths;

type Operation<P extends Path, M extends Method> = paths[P] extends { [K in M]: infer O } ? O : never;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
type Success<O> = O extends { responses: infer R }
  ? { [K in keyof R]: K extends 200 | 201 | 202 | 204 ? JsonOf<R[K]> : never }[keyof R]
  : never;
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type PathParamsOf<O> = O extends { parameters: { path: infer PP } } ? PP : never;

/** The answer body of a successful call of `method path`. */
export type Answer<P extends Path, M extends Method> = Success<Operation<P, M>>;
export type Body<P extends Path, M extends Method> = BodyOf<Operation<P, M>>;
export type Query<P extends Path, M extends Method> = QueryOf<Operation<P, M>>;

export interface ApiError {
  /** HTTP status; 0 when no answer came (offline, timeout, aborted). */
  status: number;
  /** The API's stable code, or one of ours: `network`, `client_timeout`. */
  code: string;
  /** The member, query parameter or header at fault; "" when none. */
  field: string;
  /** The server's English message (for the log), never shown as is. */
  message: string;
  /** Extra members of the error (operation_id, request_id...). */
  extra: Record<string, unknown>;
  /** Seconds to wait (429, 503), from Retry-After. */
  retryAfterS: number | null;
}

export class ApiFailure extends Error {
  readonly error: ApiError;
  constructor(error: ApiError) {
    super(`${error.status} ${error.code}`);
    this.error = error;
  }
}

/** Whether the outcome of a command is unknown: the same key must be reused. */
export function outcomeUnknown(e: ApiError): boolean {
  return e.status === 0 || e.status >= 500;
}

const TIMEOUT_MS_DEFAULT = 20000;
let onUnauthenticated: (() => void) | null = null;

/** The app says what to do when the session has ended (back to login). */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

/** A new Idempotency-Key: 128 random bits, URL-safe (the API allows 1..64 of A-Z a-z 0-9 - _). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface CallOptions<P extends Path, M extends Method> {
  params?: PathParamsOf<Operation<P, M>> extends never ? undefined : Record<string, string>;
  query?: Query<P, M> | Record<string, string | number | undefined>;
  body?: Body<P, M>;
  /** A raw body (an image upload) with its content type. */
  blob?: Blob;
  key?: string;
  timeoutMs?: number;
}

function fillPath(template: string, params: Record<string, string> | undefined): string {
  return template.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

export function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

function errorOf(status: number, data: unknown, retryAfter: string | null): ApiError {
  const record = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const { code, field, message, ...extra } = record;
  const fallback = status === 0 ? 'network' : status >= 500 ? 'unavailable' : 'unexpected';
  const seconds = retryAfter !== null ? Number.parseInt(retryAfter, 10) : Number.NaN;
  return {
    status,
    code: typeof code === 'string' && code ? code : fallback,
    field: typeof field === 'string' ? field : '',
    message: typeof message === 'string' ? message : '',
    extra,
    retryAfterS: Number.isFinite(seconds) ? seconds : null,
  };
}

/** One call of the API. Resolves with the answer's JSON (undefined for 204),
 * rejects with ApiFailure. A 401 `unauthenticated` also calls the app's handler. */
export async function call<P extends Path, M extends Method>(
  method: M,
  path: P,
  options: CallOptions<P, M> = {},
): Promise<Answer<P, M>> {
  const url = fillPath(path as string, options.params) + queryString(options.query as Record<string, unknown>);
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.blob) {
    body = options.blob;
    headers['Content-Type'] = options.blob.type;
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] = 'application/json';
  }
  if (options.key) headers['Idempotency-Key'] = options.key;
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), options.timeoutMs ?? TIMEOUT_MS_DEFAULT);
  let response: Response;
  try {
    response = await fetch(url, {
      method: method.toUpperCase(),
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch (e) {
    const timedOut = e instanceof DOMException && e.name === 'AbortError';
    throw new ApiFailure({ ...errorOf(0, null, null), code: timedOut ? 'client_timeout' : 'network' });
  } finally {
    window.clearTimeout(timer);
  }
  let data: unknown = undefined;
  const type = response.headers.get('Content-Type') ?? '';
  if (response.status !== 204 && type.includes('json')) {
    try {
      data = await response.json();
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const error = errorOf(response.status, data, response.headers.get('Retry-After'));
    if (response.status === 401 && error.code === 'unauthenticated' && onUnauthenticated) onUnauthenticated();
    throw new ApiFailure(error);
  }
  return data as Answer<P, M>;
}

/** The ApiError of anything thrown by `call` (a bug becomes `unexpected`). */
export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiFailure) return e.error;
  return errorOf(-1, { code: 'unexpected', message: String(e) }, null);
}

/** A call whose answer is a file (the SEPA transfer file): its bytes and the
 * name its Content-Disposition gives. Errors as for `call`. */
export async function callForFile(
  method: Method,
  path: string,
  options: { params?: Record<string, string>; body?: unknown; key?: string; timeoutMs?: number } = {},
): Promise<{ blob: Blob; filename: string }> {
  const headers: Record<string, string> = { Accept: 'application/xml, application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.key) headers['Idempotency-Key'] = options.key;
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), options.timeoutMs ?? TIMEOUT_MS_DEFAULT);
  try {
    const response = await fetch(fillPath(path, options.params), {
      method: method.toUpperCase(),
      headers,
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: controller.signal,
    });
    if (!response.ok) {
      const data: unknown = await response.json().catch(() => undefined);
      const error = errorOf(response.status, data, response.headers.get('Retry-After'));
      if (response.status === 401 && error.code === 'unauthenticated' && onUnauthenticated) onUnauthenticated();
      throw new ApiFailure(error);
    }
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'fichier';
    return { blob: await response.blob(), filename };
  } catch (e) {
    if (e instanceof ApiFailure) throw e;
    const timedOut = e instanceof DOMException && e.name === 'AbortError';
    throw new ApiFailure({ ...errorOf(0, null, null), code: timedOut ? 'client_timeout' : 'network' });
  } finally {
    window.clearTimeout(timer);
  }
}
