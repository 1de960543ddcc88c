/* data.ts - the partner space's types (all from the generated API
 * description) and the few things every screen shares: the session's
 * partner, the role check, the labels of statuses and channels. */
import { useEffect, useState } from 'preact/hooks';
import { call, type Answer } from '../shared/api';
import type { components } from '../shared/api.gen';
import type { Me } from '../shared/session';
import { T } from './strings.fr';

export type Schemas = components['schemas'];
export type Partner = Answer<'/api/v1/partner', 'get'>;
export type Operation = Schemas['PartnerOperation'];
export type OperationsPage = Answer<'/api/v1/partner/operations', 'get'>;
export type RefundRequest = Schemas['RefundRequest'];
export type Export = Schemas['Export'];
export type PartnerUser = Schemas['PartnerUser'];
export type Structure = Answer<'/api/v1/partner/structure', 'get'>;
export type PartnerConventions = Answer<'/api/v1/partner/conventions', 'get'>;

export const BASE = '/partenaire';

export function isAdmin(me: Me | null): boolean {
  return me?.role === 'partner_admin';
}

export function isPartnerRole(me: Me | null): boolean {
  return me?.role === 'partner_admin' || me?.role === 'partner_user';
}


let partnerCache: Partner | null = null;
const partnerListeners = new Set<() => void>();

/** Reads the session's partner again (after a payment, a refund, a new name). */
export async function refreshPartner(): Promise<void> {
  try {
    partnerCache = await call('get', '/api/v1/partner');
    for (const listener of partnerListeners) listener();
  } catch {
    // The screens that need it say why; the header simply shows less.
  }
}

export function forgetPartner(): void {
  partnerCache = null;
}

export function usePartner(): Partner | null {
  const [, setTick] = useState(0);
  const rendered = partnerCache;
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    partnerListeners.add(update);
    if (partnerCache !== rendered) update();
    if (!partnerCache) void refreshPartner();
    return () => {
      partnerListeners.delete(update);
    };
  }, []);
  return partnerCache;
}

export { useLoad } from '../shared/load';
export { categoryLabel } from '../shared/categories.fr';

export function channelLabel(channel: string | null | undefined): string {
  return channel ? (T.channel as Record<string, string>)[channel] ?? channel : '–';
}
