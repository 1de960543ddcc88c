/* data.ts - the console's types and the few things its screens share: the
 * staff roles. Every type comes from the API description (api.gen.ts,
 * generated from docs/openapi.json): a renamed field breaks the build. */
import type { Answer } from '../shared/api';
import type { components } from '../shared/api.gen';
import type { Me } from '../shared/session';

export type Schemas = components['schemas'];
export type Pass = Schemas['Pass'];
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

export type PartnerSummary = Schemas['PartnerListed'];
export type PartnerList = Answer<'/api/v1/partners', 'get'>;
export type PartnerDetail = Schemas['PartnerDetail'];
export type BeneficiarySummary = Schemas['BeneficiarySummary'];
export type BeneficiaryList = Answer<'/api/v1/beneficiaries', 'get'>;
export type BeneficiaryDetail = Schemas['BeneficiaryDetail'];
export type PassClosed = Schemas['PassClosed'];
export type Acceptances = Schemas['ConventionAcceptances'];
export type StaffUser = Schemas['StaffUser'];
