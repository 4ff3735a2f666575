import type { Logger } from '../core/logger.ts';
import type { TokenClaims, TokenService } from '../auth/tokens.ts';
import type { EngineKind, EngineStats } from '../engine/EngineTypes.ts';
import type { RoomRegistry } from '../stage/RoomRegistry.ts';
import type { BroadcastManager } from '../broadcast/BroadcastManager.ts';

/** Per-request values the middleware sets for the handlers. */
export type AppVariables = {
  requestId: string;
  log: Logger;
};

export type AppEnv = { Variables: AppVariables };

/** A request that passed `roomToken`: the verified claims of its Bearer token. */
export type TokenEnv = { Variables: AppVariables & { claims: TokenClaims } };

export interface ApiDeps {
  apiKey: string;
  /** Largest accepted request body, bytes. */
  maxBodyBytes: number;
  registry: RoomRegistry;
  tokens: TokenService;
  engineKind: EngineKind;
  engineStats: () => Promise<EngineStats>;
  broadcasts: Pick<BroadcastManager, 'start' | 'stop' | 'status'>;
  /** Directory holding `pages/` and `dist/` of the player. */
  playerRoot: string;
}
