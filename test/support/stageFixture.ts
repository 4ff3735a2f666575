import { after, before } from 'node:test';
import { ServiceError } from '../../services/core/errors.ts';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { RoomRegistry } from '../../services/stage/RoomRegistry.ts';

/** The stage layer (RoomRegistry) over the real embedded engine, without media. */
export interface Stage {
  engine: EmbeddedEngine;
  registry: RoomRegistry;
}

export function createStage(): Stage {
  const engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [47000, 47999], iceServers: [] });
  return { engine, registry: new RoomRegistry(engine, { roleGraceMs: 60_000 }) };
}

export async function closeStage(stage: Stage): Promise<void> {
  await stage.registry.close();
  await stage.engine.close();
}

/**
 * One stage for the enclosing `describe`: created in `before`, closed in `after`. Read its
 * fields inside tests (they are set once `before` has run).
 */
export function useStage(): Stage {
  const stage = {} as Stage;
  before(() => {
    Object.assign(stage, createStage());
  });
  after(async () => {
    await closeStage(stage);
  });
  return stage;
}

/** For assert.throws / assert.rejects: a ServiceError with this code. */
export const errorCode = (expected: string) => (err: unknown) => err instanceof ServiceError && err.code === expected;
