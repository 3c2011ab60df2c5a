import { QueryClient } from "@tanstack/react-query";

/**
 * Server state (TanStack Query). Pages refresh themselves where it matters (sockets, polls,
 * catch-up after a reconnection), so the client does not refetch on focus or reconnection and
 * does not retry: a failed load shows its error and a "Try again" at once.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, refetchOnWindowFocus: false, refetchOnReconnect: false, staleTime: 5_000 },
      mutations: { retry: false },
    },
  });
}

export const queryClient = createQueryClient();
