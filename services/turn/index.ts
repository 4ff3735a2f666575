export { createTurnService, turnCredential, TurnService } from './TurnCredentials.ts';
export type { IceServer, TurnCredential, TurnOptions } from './TurnTypes.ts';
