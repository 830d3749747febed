/** Who is signed in and what they may do; pages hide what the role cannot do. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from './lib/types.js';

export interface SessionState {
  session: Session;
  signOut(): void;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside SessionContext');
  return state;
}

export function useCan(): { trigger: boolean; editJobs: boolean } {
  const { session } = useSession();
  return { trigger: session.can['builds:trigger'] === true, editJobs: session.can['jobs:write'] === true };
}
