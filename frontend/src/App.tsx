import { QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Navigate, Route, Routes, useLocation, useParams, useSearchParams } from "react-router";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { Layout } from "./components/Layout";
import { queryClient } from "./lib/query";
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

// A page keyed by its id starts fresh when the id changes (one event's page to another's).
function WithId({ page: Page, param = "id" }: { page: (p: { id: string }) => React.ReactNode; param?: string }) {
  const id = useParams()[param] ?? "";
  return <Page key={id} id={id} />;
}

function ResetPassword() {
  const [query] = useSearchParams();
  return <ResetPasswordPage token={query.get("token")} />;
}

/** Every page of the app; app.py serves index.html for the same paths (keep both in step). */
export function AppRoutes() {
  const location = useLocation();
  return (
    <Layout>
      <ErrorBoundary resetKey={location.pathname}>
        <Routes>
          <Route path="/" element={<EventsPage />} />
          <Route path="/events" element={<EventsPage />} />
          <Route path="/events/:id" element={<WithId page={({ id }) => <EventPage eventId={id} />} />} />
          <Route path="/events/:id/queue" element={<WithId page={({ id }) => <WaitingRoomPage eventId={id} />} />} />
          <Route
            path="/checkout/:holdId"
            element={<WithId param="holdId" page={({ id }) => <CheckoutPage holdId={id} />} />}
          />
          <Route path="/feed" element={<FeedPage />} />
          <Route path="/tickets" element={<MyTicketsPage />} />
          <Route path="/me" element={<Navigate to="/tickets" replace />} />
          <Route path="/organizer" element={<OrganizerPage />} />
          <Route
            path="/organizer/events/:id"
            element={<WithId page={({ id }) => <OrganizerEventPage eventId={id} />} />}
          />
          <Route path="/jobs" element={<JobsPage />} />
          <Route
            path="/organizer/events/:id/manage"
            element={<WithId page={({ id }) => <EventManagePage eventId={id} />} />}
          />
          <Route path="/door/:id" element={<WithId page={({ id }) => <DoorPage eventId={id} />} />} />
          <Route path="/dev/mail" element={<DevMailPage />} />
          <Route path="/reset-password" element={<ResetPassword />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </ErrorBoundary>
    </Layout>
  );
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </QueryClientProvider>
  );
}
