/* session.ts - who is logged in, from GET /api/v1/me at start (the cookie is
 * HttpOnly: the app never sees the token), logging in with a cookie session
 * and out. One small store that components subscribe to. */
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, asApiError, call, type Answer, type ApiError } from './api';

export type Me = Answer<'/api/v1/me', 'get'>;

export interface SessionState {
  status: 'loading' | 'anonymous' | 'ready' | 'error';
  me: Me | null;
  error: ApiError | null;
}

let state: SessionState = { status: 'loading', me: null, error: null };
const listeners = new Set<() => void>();

function set(next: SessionState): void {
  state = next;
  for (const listener of listeners) listener();
}

export function session(): SessionState {
  return state;
}

export function useSession(): SessionState {
  const [, setTick] = useState(0);
  const rendered = state;
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    // The answer of /me may have come between the render and this effect.
    if (state !== rendered) update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return state;
}

/** Reads the session the cookie holds, if any; `alongWith`: what the first
 * screen also needs, read at the same time, awaited before the session is told. */
export async function loadSession(alongWith?: Promise<unknown>): Promise<void> {
  try {
    const [me] = await Promise.all([call('get', '/api/v1/me'), alongWith?.catch(() => undefined)]);
    set({ status: 'ready', me, error: null });
  } catch (e) {
    const error = asApiError(e);
    if (error.status === 401) set({ status: 'anonymous', me: null, error: null });
    else set({ status: 'error', me: null, error });
  }
}

/** Logs in with a cookie session, then reads who we are. */
export async function logIn(email: string, password: string): Promise<Me> {
  await call('post', '/api/v1/auth/login', { body: { email, password, session: 'cookie' } });
  const me = await call('get', '/api/v1/me');
  set({ status: 'ready', me, error: null });
  return me;
}

export async function logOut(): Promise<void> {
  try {
    await call('post', '/api/v1/auth/logout');
  } catch (e) {
    // An ended session is what we wanted; anything else is reported.
    if (!(e instanceof ApiFailure && e.error.status === 401)) throw e;
  }
  set({ status: 'anonymous', me: null, error: null });
}

/** The session ended under us (401 on any call). */
export function sessionEnded(): void {
  if (state.status === 'ready') set({ status: 'anonymous', me: null, error: null });
}
