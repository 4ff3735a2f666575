export { createOriginApp, type OriginOptions } from './createOriginApp.ts';
