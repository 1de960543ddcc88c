/* errors.fr.ts - every error code of the API (docs/api.md) and of the client
 * itself as a plain French sentence for the person in front of the screen.
 * A page may say it better for its own context (see `messageFor`'s
 * overrides); an unknown code still gets an honest sentence. */
import type { ApiError } from './api';

const MESSAGES: Record<string, string> = {
  // Ours: no answer came.
  network: 'La connexion au service est perdue. Vérifiez votre connexion Internet puis réessayez : ce que vous avez saisi est conservé.',
  client_timeout: 'Le service met trop de temps à répondre. Réessayez dans un instant : ce que vous avez saisi est conservé et rien ne sera fait deux fois.',
  unexpected: 'Une erreur inattendue est survenue. Réessayez ; si cela continue, contactez le service.',
  // 400
  malformed_json: 'La demande envoyée est illisible. Rechargez la page puis réessayez.',
  unknown_field: 'La demande contient une information inconnue. Rechargez la page puis réessayez.',
  missing_field: 'Ce champ est obligatoire.',
  invalid_type: 'Cette valeur n’a pas le bon format.',
  invalid_value: 'Cette valeur n’est pas acceptée : vérifiez sa longueur et ses caractères.',
  invalid_email: 'Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.',
  invalid_token: 'Ce lien n’est pas valide. Copiez le lien complet depuis l’e-mail reçu, ou demandez-en un nouveau.',
  invalid_url: 'Saisissez une adresse web complète commençant par https:// ou http://.',
  invalid_phone: 'Saisissez un numéro de téléphone de 6 à 15 chiffres, par exemple 01 23 45 67 89.',
  invalid_image: 'Ce fichier n’est pas une image PNG ou JPEG complète, ou l’image est trop grande (8 000 pixels de côté au plus).',
  bad_origin: 'La demande ne vient pas de cette page. Rechargez la page puis réessayez.',
  // 401, 403
  unauthenticated: 'Votre session a expiré. Connectez-vous à nouveau.',
  invalid_credentials: 'L’adresse e-mail ou le mot de passe est incorrect.',
  forbidden: 'Votre profil ne permet pas cette action. Un administrateur de votre structure peut la faire.',
  // 404
  not_found: 'Cet élément n’existe pas ou plus.',
  partner_not_found: 'Ce partenaire est introuvable.',
  pass_not_found: 'Ce Pass est introuvable.',
  voucher_not_found: 'Aucun bon d’échange ne porte ce numéro. Vérifiez le numéro saisi.',
  user_not_found: 'Cet utilisateur n’existe pas ou a déjà été retiré.',
  convention_not_found: 'Cette convention est introuvable.',
  operation_not_found: 'Cette opération est introuvable.',
  export_not_found: 'Cet export est introuvable.',
  refund_request_not_found: 'Cette demande de remboursement est introuvable.',
  // back-office lists and details
  beneficiary_not_found: 'Ce bénéficiaire est introuvable.',
  method_not_allowed: 'Cette action n’est pas possible ici.',
  // 409
  idempotency_conflict: 'Cette demande a déjà été envoyée avec d’autres valeurs. Rechargez la page pour voir où elle en est.',
  email_taken: 'Cette adresse e-mail est déjà utilisée par un compte.',
  conflict: 'C’est déjà fait.',
  voucher_used: 'Ce bon d’échange a déjà été utilisé.',
  voucher_cancelled: 'Ce bon d’échange a été annulé : il ne peut plus être utilisé.',
  voucher_expired: 'Ce bon d’échange a expiré : il ne peut plus être utilisé.',
  last_admin: 'Votre structure doit garder au moins un administrateur : nommez d’abord un autre administrateur.',
  operation_cancelled: 'Cette opération est déjà annulée.',
  operation_in_refund_request: 'Cette opération fait partie d’une demande de remboursement : annulez d’abord la demande.',
  operation_paid: 'Cette opération a déjà été remboursée : elle ne peut plus être annulée.',
  export_pending: 'Cet export est en préparation : il sera prêt dans un instant.',
  export_failed: 'Cet export a échoué : réduisez la période ou les filtres puis recommencez.',
  refund_request_paid: 'Cette demande a déjà été payée : elle ne peut plus être annulée.',
  refund_request_cancelled: 'Cette demande est déjà annulée.',
  refund_request_opening: 'Cette demande est encore en préparation : réessayez dans un instant.',
  refund_request_not_pending: 'Cette demande n’est plus en attente de paiement.',
  bank_account_missing: 'Les coordonnées bancaires de la structure manquent.',
  // 410
  token_used: 'Ce lien a déjà été utilisé. Connectez-vous avec votre mot de passe, ou demandez un nouveau lien avec « Mot de passe oublié ».',
  token_expired: 'Ce lien a expiré. Demandez un nouveau lien avec « Mot de passe oublié ».',
  export_deleted: 'Cet export a été supprimé.',
  export_expired: 'Cet export a expiré : ses fichiers sont gardés 7 jours. Faites un nouvel export.',
  // 413, 415
  body_too_large: 'La demande est trop volumineuse.',
  image_too_large: 'Cette image est trop lourde : 1 Mo au plus.',
  unsupported_media_type: 'Seules les images PNG et JPEG sont acceptées.',
  // 422
  invalid_amount: 'Ce montant n’est pas accepté.',
  invalid_partner_code: 'Ce code partenaire n’est pas valide : vérifiez les 8 chiffres.',
  invalid_receipt: 'Ce reçu n’est pas valable : sa signature ne correspond pas.',
  insufficient_funds: 'Le solde du Pass est insuffisant.',
  no_envelope_for_category: 'Le Pass n’a pas de budget pour cette catégorie.',
  envelope_expired: 'Le budget de cette catégorie a expiré.',
  end_date_earlier: 'Cette date est antérieure à la fin actuelle du budget : une date de fin ne peut qu’être fixée ou prolongée.',
  too_many_envelopes: 'Ce Pass a déjà 8 budgets, le maximum : créditez l’un de ses budgets existants.',
  invalid_category: 'Cette catégorie n’est pas acceptée.',
  invalid_date: 'Saisissez une date valide.',
  invalid_voucher_number: 'Ce numéro de bon n’est pas valide : vérifiez les 16 chiffres.',
  voucher_restricted: 'Ce bon d’échange ne peut pas être utilisé dans votre structure.',
  convention_not_accepted: 'Votre structure doit d’abord accepter la convention obligatoire en vigueur (onglet Conventions) pour recevoir des paiements.',
  invalid_iban: 'Cet IBAN n’est pas valide : vérifiez chaque caractère.',
  invalid_bic: 'Ce BIC n’est pas valide : 8 ou 11 lettres et chiffres, par exemple BNPAFRPP.',
  invalid_filter: 'Ce filtre n’est pas accepté.',
  empty_selection: 'Aucune opération acceptée ne correspond à cette sélection.',
  selection_too_large: 'Une demande de remboursement compte au plus 600 opérations : réduisez la sélection.',
  invalid_transfer_reference: 'Cette référence de virement n’est pas acceptée.',
  no_requests: 'Choisissez au moins une demande.',
  // 428, 429
  idempotency_key_required: 'La demande est incomplète. Rechargez la page puis réessayez.',
  too_many_attempts: 'Trop d’essais. Patientez quelques minutes avant de réessayer.',
  too_many_exports: 'Vous avez déjà 10 exports en cours ou prêts. Supprimez-en un pour en créer un nouveau.',
  too_many_requests: 'Trop de demandes à la fois depuis votre connexion. Patientez quelques secondes puis réessayez.',
  malformed_request: 'La demande envoyée est illisible. Rechargez la page puis réessayez.',
  http_version_not_supported: 'Votre navigateur parle une version du web que le service ne connaît pas. Mettez-le à jour ou essayez un autre navigateur.',
  too_deep: 'La demande envoyée est illisible. Rechargez la page puis réessayez.',
  too_many_streams: 'Trop d’écrans suivent les opérations en direct pour votre structure. Fermez un onglet, puis rechargez la page.',
  // closing a pass
  pass_closed: 'Ce Pass est fermé : il ne peut plus payer, recevoir de crédit ni émettre de bon d’échange.',
  too_many_vouchers: 'Ce Pass a trop de bons d’échange en cours pour être fermé d’un coup : annulez-en quelques-uns puis recommencez.',
  // 5xx
  internal: 'Une erreur est survenue de notre côté. Réessayez dans un instant : rien n’a été fait deux fois.',
  timeout: 'Le service n’a pas confirmé à temps. Réessayez : la même demande sera reprise, sans être faite deux fois.',
  unavailable: 'Le service est momentanément indisponible. Réessayez dans un instant : ce que vous avez saisi est conservé.',
  // staff users and activation resend (409)
  last_backoffice_admin: 'L’équipe doit garder au moins un compte back-office activé : activez d’abord un autre compte back-office.',
  already_activated: 'Tous les comptes de ce partenaire sont déjà activés : aucun e-mail n’a été envoyé.',
  // enrolling beneficiaries from a CSV file
  csv_empty: 'Le fichier est vide : sa première ligne doit nommer les colonnes nom, prenom et email.',
  csv_unknown_column: 'Le fichier a une colonne inconnue : seules nom, prenom et email sont attendues.',
  csv_missing_column: 'Il manque une colonne au fichier : nom, prenom et email sont attendues.',
  csv_duplicate_column: 'Une colonne apparaît deux fois dans l’en-tête du fichier.',
  csv_too_many_lines: 'Le fichier a plus de 5 000 lignes : découpez-le en plusieurs fichiers.',
  import_not_found: 'Cet import est introuvable : le service a peut-être redémarré. Renvoyez le fichier, rien ne sera fait deux fois.',
  imports_busy: 'Des imports sont déjà en cours. Réessayez quand ils seront terminés.',
};

/** The French sentence for an error; `overrides` lets a page say it for its
 * own context (a key `code` or `code:field`). */
export function messageFor(error: ApiError, overrides: Record<string, string> = {}): string {
  const specific = overrides[`${error.code}:${error.field}`] ?? overrides[error.code];
  if (specific) return specific;
  if (error.code === 'too_many_attempts' && error.retryAfterS) {
    const minutes = Math.max(1, Math.ceil(error.retryAfterS / 60));
    return `Trop d’essais. Réessayez dans ${minutes} minute${minutes > 1 ? 's' : ''}.`;
  }
  const known = MESSAGES[error.code];
  if (known) return known;
  if (error.status >= 500 || error.status === 0) return MESSAGES.unavailable!;
  return MESSAGES.unexpected!;
}

/** Every code this catalogue knows (the tests check docs/api.md against it). */
export const KNOWN_ERROR_CODES: readonly string[] = Object.keys(MESSAGES);
