// shared-logic.mjs - checks the web apps' pure helpers (web/src/shared:
// format.ts, checks.ts) under Node, bundled on the fly by esbuild: French
// amounts and Paris dates whatever the machine's zone, the voucher number's
// Damm digit against Damm's own example and its promises, the IBAN checks.
// Exit status 0 when all hold. Run by tests/integration/test_web_partner.py.
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './lib.mjs';

const require = createRequire(join(REPO, 'web', 'package.json'));
const { build } = require('esbuild');
const out = join(mkdtempSync(join(tmpdir(), 'solipass-shared-')), 'shared.mjs');
await build({
  stdin: {
    contents: "export * from './format'; export * from './checks'; export * from './history.fr';",
    resolveDir: join(REPO, 'web', 'src', 'shared'),
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  outfile: out,
  logLevel: 'error',
});
const m = await import(pathToFileURL(out).href);

let failures = 0;
let count = 0;
function equal(actual, expected, what) {
  count += 1;
  if (actual !== expected) {
    failures += 1;
    console.log(`FAIL ${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

// Amounts: narrow no-break space between thousands, no-break space before €.
equal(m.formatCents(123450), '1\u202f234,50\u00a0€', 'formatCents(123450)');
equal(m.formatCents(5), '0,05\u00a0€', 'formatCents(5)');
equal(m.formatCents(0), '0,00\u00a0€', 'formatCents(0)');
equal(m.parseEuros('1 234,50 €'), 123450, 'parseEuros with spaces and €');
equal(m.parseEuros('12,5'), 1250, 'parseEuros one decimal');
equal(m.parseEuros('12.50'), 1250, 'parseEuros with a point');
equal(m.parseEuros('12,505'), null, 'parseEuros three decimals');
equal(m.parseEuros('-3'), null, 'parseEuros negative');
equal(m.centsToInput(1250), '12,50', 'centsToInput');
// Dates and times in Paris, whatever the zone this runs in.
equal(m.formatDate('2026-12-06T23:30:00.000Z'), '07/12/2026', 'a winter night in Paris is the next day');
equal(m.formatDate('2026-06-30T22:30:00.000Z'), '01/07/2026', 'a summer night in Paris (UTC+2)');
equal(m.formatTime('2026-06-30T22:30:00.000Z'), '00:30', 'formatTime in summer');
equal(m.formatDateTime('2026-01-15T09:05:00.000Z'), '15/01/2026 à 10:05', 'formatDateTime in winter');
equal(m.formatDay('2026-02-03'), '03/02/2026', 'formatDay');
equal(m.formatDay(null), '–', 'formatDay of nothing');
equal(m.parseDay('3/2/2026'), '2026-02-03', 'parseDay short');
equal(m.parseDay('31/02/2026'), null, 'parseDay of a day that does not exist');
equal(m.parseDay('29/02/2028'), '2028-02-29', 'parseDay leap day');
equal(m.parisToday(new Date('2026-12-31T23:30:00Z')), '2027-01-01', 'parisToday at the new year');
equal(m.formatMonth('2026-08'), 'août 2026', 'formatMonth');
equal(m.groupDigits('4821093755162303'), '4821 0937 5516 2303', 'groupDigits');
// Counts agree with their noun as French does: 0 and 1 singular.
const grouped = m.formatCount(1000);
equal(m.countOf(0, 'demande', 'demandes'), '0 demande', 'countOf 0');
equal(m.countOf(1, 'demande', 'demandes'), '1 demande', 'countOf 1');
equal(m.countOf(2, 'demande', 'demandes'), '2 demandes', 'countOf 2');
equal(m.countOf(1000, 'demande', 'demandes'), `${grouped} demandes`, 'countOf 1000');
equal(grouped.replace(/\D/g, ''), '1000', 'formatCount keeps the digits');

// Damm: the example of Damm's paper (572 takes 4), then its promises on
// numbers made here: every single wrong digit and every swap of two
// different neighbours is caught.
equal(m.dammValid('5724'), true, 'Damm 5724');
equal(m.dammValid('5723'), false, 'Damm 5723');
let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let n = 0; n < 200; n++) {
  let body = String(1 + Math.floor(random() * 9));
  for (let i = 1; i < 15; i++) body += String(Math.floor(random() * 10));
  const check = [...'0123456789'].find((d) => m.dammValid(body + d));
  const number = body + check;
  equal(m.checkVoucherNumber(number), 'valid', `voucher ${number}`);
  for (let i = 0; i < 16; i++) {
    for (let d = 0; d < 10; d++) {
      if (String(d) === number[i]) continue;
      const typo = number.slice(0, i) + d + number.slice(i + 1);
      if (m.checkVoucherNumber(typo) === 'valid') equal(typo, null, `typo of ${number} accepted`);
    }
    if (i < 15 && number[i] !== number[i + 1]) {
      const swapped = number.slice(0, i) + number[i + 1] + number[i] + number.slice(i + 2);
      if (m.checkVoucherNumber(swapped) === 'valid') equal(swapped, null, `swap in ${number} accepted`);
    }
  }
}
equal(m.checkVoucherNumber('4821 0937'), 'incomplete', 'a short number');
equal(m.checkVoucherNumber('4821-0937-5516-2303-1'), 'too_long', 'a long number');
equal(m.checkVoucherNumber('4821 O937'), 'not_digits', 'a letter O');

// IBAN: the API's own example, as typed and wrong.
equal(m.checkIban('FR76 3000 6000 0112 3456 7890 189'), 'valid', 'IBAN FR valid');
equal(m.checkIban('fr7630006000011234567890189'), 'valid', 'IBAN lower case');
equal(m.checkIban('FR7630006000011234567890188'), 'bad_checksum', 'IBAN FR wrong check');
equal(m.checkIban('FR76 3000 6000'), 'incomplete', 'IBAN FR short');
equal(m.checkIban('FR76300060000112345678901899'), 'bad_length', 'IBAN FR long');
equal(m.checkIban('DE89 3704 0044 0532 0130 00'), 'valid', 'IBAN DE valid');
equal(m.checkIban('12FR'), 'bad_shape', 'IBAN starting with digits');
equal(m.checkIban(''), 'empty', 'IBAN empty');
equal(m.bicValid('BNPAFRPP'), true, 'BIC 8');
equal(m.bicValid('BNPAFRPPXXX'), true, 'BIC 11');
equal(m.bicValid('BNPA FR'), false, 'BIC short');
equal(m.partnerCodeValid('8386 1484'), true, 'partner code of docs/api.md');
equal(m.partnerCodeValid('83861485'), false, 'partner code wrong digit');

// The figures' axis labels, and the histories' sentences (history.fr.ts).
equal(m.formatWholeEuros(123456), '1\u202f235\u00a0€', 'whole euros rounded, French grouping');
equal(m.formatDayShort('2026-12-07'), '07/12', 'short day');
equal(m.formatMonthShort('2026-12'), '12/26', 'short month');
const actor = { user_id: 'u1', full_name: 'Léa Martin', role: 'partner_admin' };
equal(m.historySentence({ event_id: 'e', occurred_at: '2026-12-07T10:00:00.000Z', action: 'payment_cancelled', actor, details: { amount_cents: 1250, category: 'sport', returned_to_envelope: true } }),
  'Léa Martin (administrateur) a annulé le paiement de 12,50\u00a0€ (enveloppe Sport) : le montant est revenu sur le Pass.', 'history: a cancellation');
equal(m.historySentence({ event_id: 'e', occurred_at: '2026-12-07T10:00:00.000Z', action: 'refund_paid', actor: null, details: { total_cents: 359500, transfer_reference: 'VIR-1', paid_on: '2026-12-02' } }),
  'Le service du Pass solidarité a enregistré le virement du remboursement de 3\u202f595,00\u00a0€, référence VIR-1, le 02/12/2026.', 'history: a transfer, no actor');
equal(m.historySentence({ event_id: 'e', occurred_at: '2026-12-07T10:00:00.000Z', action: 'payment_accepted', actor: { user_id: 'b', full_name: 'Jean Dupont', role: 'beneficiary' }, details: { amount_cents: 500 } }, { hideBeneficiaryName: true }),
  'Le bénéficiaire a payé 5,00\u00a0€.', 'history: the partner space does not name who paid');
equal(m.historySentence({ event_id: 'e', occurred_at: '2026-12-07T10:00:00.000Z', action: 'payment_accepted', actor: { user_id: null, full_name: null, role: 'beneficiary' }, details: { amount_cents: 500, pass_ref: '154d' } }),
  'Le bénéficiaire du Pass se terminant par 154d a payé 5,00\u00a0€.', 'history: a partner reads the pass, not the person');
equal(m.historySentence({ event_id: 'e', occurred_at: '2026-12-07T10:00:00.000Z', action: 'something_new', actor, details: {} }),
  'Léa Martin (administrateur) a fait l’action « something_new ».', 'history: an unknown action still reads');

console.log(`${count - failures} of ${count} checks passed`);
process.exit(failures ? 1 : 0);
