import { useEffect, useRef, type ReactNode } from "react";
import { Link, useLocation } from "react-router";
import { section } from "../lib/router";
import { setSession, useSession } from "../lib/storage";

const NAV: { path: string; label: string; section: string }[] = [
  { path: "/", label: "Events", section: "events" },
  { path: "/feed", label: "Live feed", section: "feed" },
  { path: "/tickets", label: "My tickets", section: "tickets" },
  { path: "/organizer", label: "Organizer", section: "organizer" },
  { path: "/jobs", label: "Jobs", section: "jobs" },
  { path: "/dev/mail", label: "Mail", section: "dev" },
];

export function Layout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const session = useSession();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // Move focus to the new page's content after navigation, so keyboard and screen-reader
  // users start at the top of what changed (not on the first page load).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [pathname]);

  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        main.current?.focus();
      }}>
        Skip to content
      </a>
      <header className="site-header">
        <div className="header-inner">
          <Link className="brand" to="/">
            <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">
              <rect width="32" height="32" rx="7" fill="currentColor" />
              <path d="M9 11h14v3a2 2 0 0 0 0 4v3H9v-3a2 2 0 0 0 0-4z" fill="#fff" />
            </svg>
            <span>CrowdPass</span>
          </Link>
          <div className="account">
            {session ? (
              <>
                <span className="account-name" title={session.customer.email}>
                  {session.customer.name}
                </span>
                <button type="button" className="link-button" onClick={() => setSession(null)}>
                  Sign out
                </button>
              </>
            ) : (
              <Link to="/tickets">Sign in</Link>
            )}
          </div>
        </div>
        <nav className="site-nav" aria-label="Main">
          <ul>
            {NAV.map((item) => {
              const current = item.section === section(pathname);
              return (
                <li key={item.path}>
                  <Link to={item.path} aria-current={current ? "page" : undefined}>
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
      <footer className="site-footer">
        <p>
          CrowdPass · fair ticket sales with a virtual waiting room ·{" "}
          <a href="/schema/swagger">API documentation</a>
        </p>
      </footer>
    </>
  );
}
