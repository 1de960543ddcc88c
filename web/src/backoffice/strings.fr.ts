/* strings.fr.ts - every sentence of the back-office console, in French.
 * Sentences with a value are functions; amounts and dates reach them already
 * formatted (shared/format.ts). API error codes are in shared/errors.fr.ts. */
import type { AuthTexts } from '../shared/auth';

const plural = (count: number, one: string, many: string) => (count > 1 ? many : one);

export const T = {
  appName: 'Pass solidarité – Console de la ville',
  back: 'Retour au tableau de bord',
  auth: {
    base: '/backoffice',
    loginTitle: 'Connexion à la console de la ville',
    loginLead: 'Pour les agents du CCAS et des finances : connectez-vous avec l’adresse e-mail et le mot de passe de votre compte.',
    forgotLead: 'Saisissez l’adresse e-mail de votre compte d’agent : nous vous enverrons un lien pour choisir un nouveau mot de passe.',
    activateLead: 'Bienvenue ! Choisissez le mot de passe de votre compte : vous serez ensuite connecté.',
  } satisfies AuthTexts,
  nav: {
    dashboard: 'Tableau de bord',
    partners: 'Partenaires',
    beneficiaries: 'Bénéficiaires',
    conventions: 'Conventions',
    refunds: 'Remboursements',
    team: 'Équipe',
    logout: 'Se déconnecter',
  },
  roles: {
    backoffice: 'Back-office',
    finance: 'Finances',
  } as Record<string, string>,
  roleHints: {
    backoffice: 'Tout le travail du CCAS : partenaires, bénéficiaires, conventions, équipe, et ce que voient les finances.',
    finance: 'Le tableau de bord et les remboursements seulement : ne peut ni inscrire, ni créditer, ni clore.',
  } as Record<string, string>,
  forbidden: {
    title: 'Page réservée au back-office',
    text: 'Votre profil « Finances » donne accès au tableau de bord et aux remboursements. Cette page est réservée aux agents du back-office.',
  },
  notFound: {
    title: 'Page introuvable',
    text: 'Cette adresse ne correspond à aucune page de la console.',
  },
  welcome: {
    title: (name: string) => `Bonjour, ${name}`,
    lead: 'Ce que vous pouvez faire depuis la console :',
    activated: 'Votre compte est activé : vous êtes connecté.',
    passwordChanged: 'Votre mot de passe est changé : vous êtes connecté.',
    cards: {
      partners: 'Inscrire un partenaire, suivre son activation, sa convention, ses coordonnées bancaires et ce que la ville lui doit.',
      beneficiaries: 'Chercher un bénéficiaire, en inscrire un, créditer son Pass ou le clore.',
      conventions: 'Publier une nouvelle version de la convention et voir qui l’a acceptée.',
      refunds: 'Les demandes de remboursement des partenaires, le virement SEPA, le paiement.',
      team: 'Les comptes des agents du back-office et des finances.',
    } as Record<string, string>,
  },
};

export { plural };
