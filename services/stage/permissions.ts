import { ServiceError } from '../core/errors.ts';
import type { Role } from './StageTypes.ts';

/**
 * What each role may do on the stage, in one table. Viewers are the audience: they may watch
 * (over the WebSocket while HLS is not built; WHEP is for stage members) but never publish.
 */
const ALLOWED = {
  publish: ['presenter', 'moderator'],
  subscribe: ['presenter', 'moderator', 'viewer'],
  whep: ['presenter', 'moderator'],
} as const satisfies Record<string, readonly Role[]>;

export type StageAction = keyof typeof ALLOWED;

export function can(role: Role, action: StageAction): boolean {
  return (ALLOWED[action] as readonly Role[]).includes(role);
}

/** Throws ServiceError 'forbidden' unless `role` may do `action`. */
export function assertCan(role: Role, action: StageAction): void {
  if (!can(role, action)) throw new ServiceError('forbidden', `role ${role} may not ${action}`);
}
