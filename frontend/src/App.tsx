import { ErrorBoundary } from "./components/ErrorBoundary";
import { Layout } from "./components/Layout";
import { CheckoutPage } from "./pages/CheckoutPage";
import { EventPage } from "./pages/EventPage";
import { EventsPage } from "./pages/EventsPage";
import { FeedPage } from "./pages/FeedPage";
import { JobsPage } from "./pages/JobsPage";
import { MyTicketsPage } from "./pages/MyTicketsPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { OrganizerEventPage, OrganizerPage } from "./pages/OrganizerPage";
import { WaitingRoomPage } from "./pages/WaitingRoomPage";
import { DoorPage } from "./pages/DoorPage";
import { DevMailPage, EventManagePage, ResetPasswordPage } from "./pages/ManagePages";
import { useRoute, type Route } from "./lib/router";

function Page({ route }: { route: Route }) {
  const id = route.params.id ?? "";
  switch (route.name) {
    case "events":
      return <EventsPage />;
    case "event":
      return <EventPage key={id} eventId={id} />;
    case "queue":
      return <WaitingRoomPage key={id} eventId={id} />;
    case "checkout":
      return <CheckoutPage key={route.params.holdId} holdId={route.params.holdId ?? ""} />;
    case "feed":
      return <FeedPage />;
    case "tickets":
      return <MyTicketsPage />;
    case "organizer":
      return <OrganizerPage />;
    case "organizer-event":
      return <OrganizerEventPage key={id} eventId={id} />;
    case "jobs":
      return <JobsPage />;
    case "organizer-manage":
      return <EventManagePage key={id} eventId={id} />;
    case "door":
      return <DoorPage key={id} eventId={id} />;
    case "dev-mail":
      return <DevMailPage />;
    case "reset-password":
      return <ResetPasswordPage token={route.query.get("token")} />;
    default:
      return <NotFoundPage />;
  }
}

export function App() {
  const route = useRoute();
  return (
    <Layout route={route}>
      <ErrorBoundary resetKey={route.path}>
        <Page route={route} />
      </ErrorBoundary>
    </Layout>
  );
}
