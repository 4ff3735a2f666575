import type { ServerMessage } from './protocol.ts';

/** A server message as a session hands it to `send`: without `v`, which the session adds. */
export type Outgoing = ServerMessage extends infer M ? (M extends { v: 1 } ? Omit<M, 'v'> : never) : never;

export function reOf(id: string | undefined): { re?: string } {
  return id ? { re: id } : {};
}
