/* history.fr.ts - the French sentence of each line of a history (the audit
 * the projection writes for every event it applies: `GET .../history`):
 * "who did what", one sentence per stable action code. The partner space and
 * the back-office console both read histories through shared/history.tsx.
 * Amounts and dates reach the sentences already formatted. An action code
 * this catalogue does not know yet still gives a readable line (its code),
 * never a blank one. */
import { categoryLabel } from './categories.fr';
import { countOf, formatCents, formatDay } from './format';

import type { components } from './api.gen';

export type HistoryActor = components['schemas']['HistoryActor'];
export type HistoryEntry = components['schemas']['HistoryEntry'];

export const H = {
  colWhen: 'Date et heure',
  colWhat: 'Ce qui s’est passé',
  more: 'Voir les actions plus anciennes',
  loadingMore: 'Chargement des actions plus anciennes…',
  none: 'Aucune action enregistrée pour le moment.',
  end: 'C’est le début de l’historique.',
  count: (n: number) => `${countOf(n, 'action affichée', 'actions affichées')}, de la plus récente à la plus ancienne.`,
  system: 'Le service du Pass solidarité',
  beneficiary: 'Le bénéficiaire',
  beneficiaryOf: (passRef: string) => `Le bénéficiaire du Pass se terminant par ${passRef}`,
  someone: 'Une personne',
  roles: {
    backoffice: 'agent du CCAS',
    finance: 'service financier',
    partner_admin: 'administrateur',
    partner_user: 'utilisateur',
    beneficiary: 'bénéficiaire',
  } as Record<string, string>,
  operation: (id: string) => `Opération ${id}`,
  request: (id: string) => `Demande ${id}`,
};

/** The subject of the sentence: the person and their role, or the service
 * itself for what the system did alone (the monthly run, an expiry). A
 * beneficiary the reader may not know by name (a partner reading its own
 * history gets no name nor id) is the pass's last four characters. */
export function actorText(actor: HistoryActor | null, details: Record<string, unknown> = {}, options: { hideBeneficiaryName?: boolean } = {}): string {
  if (!actor) return H.system;
  const passRef = typeof details.pass_ref === 'string' ? details.pass_ref : '';
  if (actor.role === 'beneficiary' && (options.hideBeneficiaryName || !actor.full_name)) return passRef ? H.beneficiaryOf(passRef) : H.beneficiary;
  const role = actor.role ? H.roles[actor.role] : undefined;
  const name = actor.full_name || (actor.user_id ?? '').slice(0, 8) || H.someone;
  return role ? `${name} (${role})` : name;
}

type Details = Record<string, unknown>;

function text(d: Details, name: string): string {
  const value = d[name];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function amount(d: Details, name = 'amount_cents'): string {
  const value = d[name];
  return typeof value === 'number' ? formatCents(value) : '';
}

/** ` de 12,50 €` when the line carries an amount, else nothing. */
function ofAmount(d: Details, name = 'amount_cents'): string {
  const a = amount(d, name);
  return a ? ` de ${a}` : '';
}

/** ` (enveloppe Sport)` when the line names a category. */
function inCategory(d: Details): string {
  const c = text(d, 'category');
  return c ? ` (enveloppe ${categoryLabel(c)})` : '';
}

/** ` chez Judo Élan` when the line names the partner (a pass's history). */
function atPartner(d: Details): string {
  const name = text(d, 'partner_name');
  return name ? ` chez ${name}` : '';
}

/** Where the money went back: the pass's envelope, or the city's budget
 * when that envelope had ended (or the pass was closed). */
function returned(d: Details): string {
  if (d.returned_to_envelope === true) return ' : le montant est revenu sur le Pass';
  if (d.returned_to_envelope === false) return ' : le montant est revenu au budget de la ville';
  return '';
}

function who(d: Details): string {
  const name = text(d, 'full_name');
  const email = text(d, 'email');
  if (name && email) return ` ${name} (${email})`;
  return name || email ? ` ${name || email}` : '';
}

function roleOf(d: Details): string {
  const role = text(d, 'role');
  return role ? H.roles[role] ?? role : '';
}

/** "a fait ceci" for each action: the verb phrase after the subject. */
/** One sentence per action code of the API; `satisfies` makes a code the
 * API adds and this catalogue lacks a type error (pass_closed comes with the
 * closing of passes). */
const PHRASES = {
  partner_created: (d) => `a inscrit la structure${text(d, 'name') ? ` « ${text(d, 'name')} »` : ''}${text(d, 'category') ? ` (catégorie ${categoryLabel(text(d, 'category'))})` : ''}`,
  user_added: (d) =>
    text(d, 'role') === 'beneficiary'
      ? `a inscrit le bénéficiaire${who(d)}`
      : `a ajouté le compte de${who(d) || ' un utilisateur'}${roleOf(d) ? ` comme ${roleOf(d)}` : ''}`,
  password_set: (d) => `a choisi le mot de passe du compte${who(d)}`,
  role_changed: (d) => `a changé le rôle de${who(d) || ' un utilisateur'}${roleOf(d) ? ` en ${roleOf(d)}` : ''}`,
  user_removed: (d) => `a retiré le compte de${who(d) || ' un utilisateur'}`,
  convention_published: (d) => `a publié la convention${text(d, 'title') ? ` « ${text(d, 'title')} »` : ''}${text(d, 'version') ? ` (version ${text(d, 'version')})` : ''}`,
  convention_accepted: (d) => `a accepté la convention${text(d, 'title') ? ` « ${text(d, 'title')} »` : ''}${text(d, 'version') ? ` (version ${text(d, 'version')})` : ''}`,
  structure_updated: () => 'a modifié les informations de la structure',
  bank_details_changed: (d) => `a modifié les coordonnées bancaires${text(d, 'iban_last4') ? ` (IBAN se terminant par ${text(d, 'iban_last4')})` : ''}`,
  structure_image_set: (d) => (text(d, 'slot') === 'cover' ? 'a changé la photo de couverture de la structure' : text(d, 'slot') === 'logo' ? 'a changé le logo de la structure' : 'a changé une image de la structure'),
  pass_opened: () => 'a ouvert le Pass',
  credit: (d) => `a crédité le Pass${ofAmount(d)}${inCategory(d)}${text(d, 'end_date') ? `, utilisable jusqu’au ${formatDay(text(d, 'end_date'))} inclus` : ''}`,
  payment_accepted: (d) => `a payé${amount(d) ? ` ${amount(d)}` : ''}${atPartner(d)}${inCategory(d)}${text(d, 'channel') === 'voucher' ? ' par bon d’échange' : ''}`,
  envelope_expired: (d) => `a rendu au budget de la ville le reste d’une enveloppe arrivée à échéance${ofAmount(d)}${inCategory(d)}`,
  voucher_issued: (d) => `a créé un bon d’échange${ofAmount(d)}${inCategory(d)}${text(d, 'partner_name') ? ` à utiliser chez ${text(d, 'partner_name')}` : ''}${text(d, 'valid_until') ? `, valable jusqu’au ${formatDay(text(d, 'valid_until').slice(0, 10))}` : ''}`,
  voucher_redeemed: (d) => `a encaissé un bon d’échange${ofAmount(d)}${atPartner(d)}${inCategory(d)}`,
  voucher_cancelled: (d) => `a annulé un bon d’échange${ofAmount(d)}${returned(d)}`,
  voucher_expired: (d) => `a clos un bon d’échange arrivé à échéance${ofAmount(d)}${returned(d)}`,
  payment_cancelled: (d) => `a annulé le paiement${ofAmount(d)}${atPartner(d)}${inCategory(d)}${returned(d)}`,
  operation_reference_set: (d) => `a noté la référence interne « ${text(d, 'reference')} » sur un paiement${atPartner(d)}`,
  refund_requested: (d) =>
    `a demandé le remboursement${text(d, 'kind') === 'automatic' ? ' automatique' : ''}${text(d, 'period') ? ` du mois ${text(d, 'period')}` : ''}${ofAmount(d, 'expected_total_cents') || ofAmount(d, 'total_cents')}`,
  refund_confirmed: (d) => `a enregistré la demande de remboursement${ofAmount(d, 'total_cents')}${typeof d.operation_count === 'number' ? ` pour ${countOf(d.operation_count, 'paiement', 'paiements')}` : ''} : elle attend le virement`,
  refund_cancelled: (d) =>
    text(d, 'reason') === 'aborted'
      ? 'a abandonné une demande de remboursement : un de ses paiements avait été annulé entre-temps'
      : 'a annulé une demande de remboursement : ses paiements sont de nouveau remboursables',
  refund_paid: (d) =>
    `a enregistré le virement du remboursement${ofAmount(d, 'total_cents')}${text(d, 'transfer_reference') ? `, référence ${text(d, 'transfer_reference')}` : ''}${text(d, 'paid_on') ? `, le ${formatDay(text(d, 'paid_on'))}` : ''}`,
  pass_closed: (d) => `a fermé le Pass${amount(d, 'returned_cents') ? ` : ${amount(d, 'returned_cents')} rendus au budget` : ''}`,
} satisfies Record<HistoryEntry['action'], (d: Details) => string> & Record<string, (d: Details) => string>;

/** The whole sentence of one line: "Marie Dupont (administrateur) a annulé le paiement de 12,50 €." */
export function historySentence(entry: HistoryEntry, options: { hideBeneficiaryName?: boolean } = {}): string {
  const phrase = (PHRASES as Record<string, (d: Details) => string>)[entry.action];
  const details = entry.details ?? {};
  const body = phrase ? phrase(details) : `a fait l’action « ${entry.action} »`;
  return `${actorText(entry.actor, details, options)} ${body}.`;
}

/** The identifiers a person may need to find the line elsewhere. */
export function historyRefs(entry: HistoryEntry): string[] {
  const d = entry.details ?? {};
  const refs: string[] = [];
  const op = text(d, 'operation_id');
  if (op) refs.push(H.operation(op));
  const request = text(d, 'request_id');
  if (request) refs.push(H.request(request));
  return refs;
}

/** The action codes the sentences above know (a test checks the API's enum against it). */
export const KNOWN_ACTIONS = Object.keys(PHRASES);
