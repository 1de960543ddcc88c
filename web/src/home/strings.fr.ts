/* The home app's French strings. */
export const T = {
  appName: 'Pass solidarité',
  title: 'Bienvenue sur le Pass solidarité',
  lead: 'Le Pass solidarité de la ville aide ses bénéficiaires à payer leurs activités de sport, de culture et de loisirs chez les structures partenaires.',
  partnerTitle: 'Espace partenaire',
  partnerText: 'Vous êtes une structure partenaire : suivez vos paiements, encaissez les bons d’échange, demandez vos remboursements et gérez votre structure.',
  partnerLink: 'Accéder à l’espace partenaire',
  beneficiaryTitle: 'Application bénéficiaire',
  beneficiaryText: 'Vous avez un Pass : consultez votre solde et payez chez les partenaires depuis votre téléphone.',
  beneficiaryLink: 'Ouvrir mon Pass',
  backofficeTitle: 'Console de la ville',
  backofficeText: 'Pour les agents de la ville : inscriptions, crédits, partenaires et remboursements.',
  soon: 'Bientôt disponible.',
} as const;
