/* layout.tsx - the frame of every screen: a skip link, the header with the
 * app's name, the navigation, the main landmark, the footer with the
 * contact block, the live region, and a banner when the device is offline. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ContactBlock } from './contact';
import { LiveRegion } from './ui';

export interface NavItem {
  href: string;
  text: string;
  current: boolean;
}

function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return online;
}

export function Layout(props: {
  appName: string;
  homeHref: string;
  nav?: NavItem[];
  account?: ComponentChildren;
  /** What the offline banner says in this app (the default suits forms). */
  offlineText?: string;
  children: ComponentChildren;
}) {
  const online = useOnline();
  return (
    <>
      <a class="skip-link" href="#contenu">
        Aller au contenu
      </a>
      <header class="site-header">
        <div class="header-inner">
          <a class="brand" href={props.homeHref}>
            <span class="brand-mark" aria-hidden="true">
              PS
            </span>
            <span class="brand-text">{props.appName}</span>
          </a>
          {props.account && <div class="account">{props.account}</div>}
        </div>
        {props.nav && props.nav.length > 0 && (
          <nav class="main-nav" aria-label="Menu principal">
            <ul>
              {props.nav.map((item) => (
                <li key={item.href}>
                  <a href={item.href} aria-current={item.current ? 'page' : undefined}>
                    {item.text}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
      </header>
      {!online && (
        <div class="offline-banner" role="alert">
          {props.offlineText ?? 'Vous êtes hors connexion : rien ne peut être envoyé pour le moment. Ce que vous saisissez est conservé.'}
        </div>
      )}
      <main id="contenu" tabIndex={-1}>
        {props.children}
      </main>
      <footer class="site-footer">
        <div class="footer-inner">
          <ContactBlock />
          <p class="footer-note">Pass solidarité – un service de la ville.</p>
        </div>
      </footer>
      <LiveRegion />
    </>
  );
}
