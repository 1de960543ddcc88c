/* categories.fr.ts - the French names of the envelopes' and partners'
 * categories. A category is free text for the API (`^[a-z][a-z0-9_]{1,31}$`);
 * the usual ones are named here, any other is shown capitalised. */

export const CATEGORY_NAMES: Record<string, string> = {
  general: 'Général',
  sport: 'Sport',
  culture: 'Culture',
  loisirs: 'Loisirs',
  leisure: 'Loisirs',
  education: 'Éducation',
  alimentation: 'Alimentation',
  food: 'Alimentation',
};

/** The categories offered first in the back-office's forms, in this order. */
export const USUAL_CATEGORIES = ['general', 'sport', 'culture', 'loisirs', 'education', 'alimentation'];

export function categoryLabel(category: string): string {
  return CATEGORY_NAMES[category] ?? category.charAt(0).toUpperCase() + category.slice(1).replace(/_/g, ' ');
}
