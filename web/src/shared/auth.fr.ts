/* auth.fr.ts - the words of the account pages every space shares (shared/auth.tsx):
 * logging in, the forgotten password, choosing a password from a link. */

export const A = {
  login: {
    email: 'Adresse e-mail',
    password: 'Mot de passe',
    submit: 'Se connecter',
    submitting: 'Connexion…',
    forgot: 'Mot de passe oublié ?',
    emailMissing: 'Saisissez votre adresse e-mail.',
    passwordMissing: 'Saisissez votre mot de passe.',
    invalidCredentials: 'L’adresse e-mail ou le mot de passe est incorrect. Vérifiez-les, ou choisissez « Mot de passe oublié ? ».',
    expired: 'Votre session a expiré : connectez-vous à nouveau.',
    expiredNotice: 'Connectez-vous pour continuer : vous reviendrez ensuite à la page que vous consultiez.',
    loggedOut: 'Vous êtes déconnecté.',
  },
  forgot: {
    title: 'Mot de passe oublié',
    submit: 'Recevoir le lien',
    sentTitle: 'Demande envoyée',
    sentText: (email: string) =>
      `Si un compte existe pour ${email}, un e-mail vient de lui être envoyé avec un lien pour choisir un nouveau mot de passe. Le lien ne sert qu’une fois et expire après 3 jours. Pensez à regarder dans les courriers indésirables.`,
    back: 'Retour à la connexion',
  },
  activate: {
    title: 'Activer votre compte',
    submit: 'Activer mon compte',
  },
  reset: {
    title: 'Choisir un nouveau mot de passe',
    lead: 'Choisissez votre nouveau mot de passe : l’ancien ne fonctionnera plus.',
    submit: 'Enregistrer le mot de passe',
  },
  password: {
    choose: 'Mot de passe',
    confirm: 'Confirmez le mot de passe',
    hint: 'Au moins 10 caractères. Une phrase facile à retenir convient très bien.',
    length: 'Le mot de passe doit compter de 10 à 128 caractères.',
    mismatch: 'Les deux mots de passe ne sont pas identiques.',
    submitting: 'Enregistrement…',
    noToken: 'Ce lien est incomplet',
    noTokenText: 'Ouvrez le lien complet reçu par e-mail, ou demandez un nouveau lien.',
    newLink: 'Demander un nouveau lien',
  },
};
