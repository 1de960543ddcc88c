/* contact.tsx - the service's contact block (desk hours, e-mail, phones),
 * from GET /api/v1/contact, on every screen. Read once per page load. */
import { useEffect, useState } from 'preact/hooks';
import { call, type Answer } from './api';

type Contact = Answer<'/api/v1/contact', 'get'>;
let cached: Promise<Contact> | null = null;

function contact(): Promise<Contact> {
  cached ??= call('get', '/api/v1/contact').catch((e: unknown) => {
    cached = null;
    throw e;
  });
  return cached;
}

export function ContactBlock() {
  const [value, setValue] = useState<Contact | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    contact().then(setValue, () => setFailed(true));
  }, []);
  return (
    <section class="contact" aria-labelledby="contact-title">
      <h2 id="contact-title">Pour toute question, contactez le service</h2>
      {value ? (
        <ul class="contact-list">
          <li>
            <span class="contact-label">Horaires : </span>
            {value.hours}
          </li>
          <li>
            <span class="contact-label">E-mail : </span>
            <a href={`mailto:${value.email}`}>{value.email}</a>
          </li>
          <li>
            <span class="contact-label">Téléphone : </span>
            {value.phones.map((phone, i) => (
              <span key={phone}>
                {i > 0 && ' / '}
                <a href={`tel:${phone.replace(/[^+\d]/g, '')}`}>{phone}</a>
              </span>
            ))}
          </li>
        </ul>
      ) : (
        <p>{failed ? 'Les coordonnées du service ne peuvent pas être affichées pour le moment.' : 'Chargement…'}</p>
      )}
    </section>
  );
}
