/* data.ts - the console's types and the few things its screens share: the
 * staff roles, and the endpoints of the back-office contract. Types of the
 * endpoints the API description already publishes come from it
 * (api.gen.ts); the list, detail, staff and close endpoints are written here
 * from the contract until the description carries them (then `contract`
 * becomes `call` and these types `Answer<...>`). */
import { call, type Method } from '../shared/api';
import type { components } from '../shared/api.gen';
import type { Me } from '../shared/session';

export type Schemas = components['schemas'];
export type Pass = Schemas['Pass'] & { status?: 'open' | 'closed'; closed_at?: string | null };
export type Envelope = Schemas['Envelope'];
export type PartnerOperation = Schemas['PartnerOperation'];
export type PassOperation = Schemas['PassOperation'];
export type RefundRequest = Schemas['RefundRequest'];
export type PartnerUser = Schemas['PartnerUser'];
export type Structure = Schemas['Structure'];
export type Voucher = Schemas['Voucher'];
export type Convention = Schemas['Convention'];

export const BASE = '/backoffice';

export type StaffRole = 'backoffice' | 'finance';

export function staffRole(me: Me | null): StaffRole | null {
  return me?.role === 'backoffice' || me?.role === 'finance' ? me.role : null;
}

/** A partner as the back-office lists it (bo-read adds the states). */
export interface PartnerSummary {
  partner_id: string;
  partner_code: string;
  name: string;
  category: string;
  owed_cents: number;
  activated?: boolean;
  convention_accepted?: boolean;
  bank_details_missing?: boolean;
  created_at?: string;
}

export interface PartnerList {
  partners: PartnerSummary[];
  next_cursor?: string | null;
}

export interface PartnerDetail {
  partner: PartnerSummary;
  structure: Structure;
  users: PartnerUser[];
  operations: PartnerOperation[];
  refund_requests: RefundRequest[];
}

export interface BeneficiarySummary {
  user_id: string;
  pass_id: string;
  full_name: string;
  email: string;
  activated: boolean;
  pass_status: 'open' | 'closed';
  balance_cents: number;
  categories: string[];
}

export interface BeneficiaryList {
  beneficiaries: BeneficiarySummary[];
  next_cursor: string | null;
  total: number;
}

export interface BeneficiaryDetail {
  user_id: string;
  full_name: string;
  email: string;
  activated: boolean;
  created_at: string;
  pass: Pass;
  operations: PassOperation[];
  vouchers: Voucher[];
}

export interface PassClosed {
  pass_id: string;
  closed_at: string;
  returned_cents: number;
  vouchers_cancelled: number;
}

export interface Acceptances {
  convention_id: string;
  accepted: Array<{ partner_id: string; name: string; accepted_at: string; accepted_by: { user_id: string; full_name: string } }>;
  pending: Array<{ partner_id: string; name: string }>;
}

export interface StaffUser {
  user_id: string;
  email: string;
  full_name: string;
  role: StaffRole;
  activated: boolean;
  disabled: boolean;
  created_at: string;
}

/** A call of an endpoint of the back-office contract that the generated
 * description does not carry yet: the same client, typed by hand. */
export function contract<T>(
  method: Method,
  path: string,
  options: { params?: Record<string, string>; query?: Record<string, string | number | undefined>; body?: unknown; key?: string } = {},
): Promise<T> {
  const untyped = call as unknown as (m: Method, p: string, o: typeof options) => Promise<T>;
  return untyped(method, path, options);
}
