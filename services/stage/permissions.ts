import { ServiceError } from '../core/errors.ts';
import type { StageRole } from './StageTypes.ts';

/**
 * What each role may do on the stage, in one table, checked against a participant's current
 * role. Viewers are the audience: they watch (HLS; over the WebSocket too, so that a demoted
 * guest can keep its stage view until HLS plays again), raise a hand, and publish only once a
 * moderator promotes them to `guest`. WHEP is checked against the token's role (a WHEP session
 * is a new participant).
 */
const ALLOWED = {
  publish: ['presenter', 'moderator', 'guest'],
  subscribe: ['presenter', 'moderator', 'guest', 'viewer'],
  whep: ['presenter', 'moderator'],
  raiseHand: ['viewer'],
  moderate: ['moderator'],
} as const satisfies Record<string, readonly StageRole[]>;

export type StageAction = keyof typeof ALLOWED;

export function can(role: StageRole, action: StageAction): boolean {
  return (ALLOWED[action] as readonly StageRole[]).includes(role);
}

/** Throws ServiceError 'forbidden' unless `role` may do `action`. */
export function assertCan(role: StageRole, action: StageAction): void {
  if (!can(role, action)) throw new ServiceError('forbidden', `role ${role} may not ${ACTION_TEXT[action]}`);
}

const ACTION_TEXT: Record<StageAction, string> = {
  publish: 'publish',
  subscribe: 'subscribe',
  whep: 'whep',
  raiseHand: 'raise a hand',
  moderate: 'moderate',
};
