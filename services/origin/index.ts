export { createOriginApp, type OriginOptions } from './createOriginApp.ts';
export { createLiveLane, type LiveLaneOptions } from './liveLane.ts';
