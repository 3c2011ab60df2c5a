import { Link } from "react-router";
import { useTitle } from "../lib/hooks";

export function NotFoundPage() {
  useTitle("Page not found");
  return (
    <div className="notice notice-info">
      <h1>Page not found</h1>
      <p>This address does not lead anywhere. The event may have moved, or the link is incomplete.</p>
      <div className="actions">
        <Link className="btn btn-primary" to="/">
          See all events
        </Link>
      </div>
    </div>
  );
}
