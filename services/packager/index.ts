export { HlsPackager } from './HlsPackager.ts';
export type { HlsPackagerEvents, HlsPackagerOptions, HlsResumePoint, RenditionInfo } from './HlsPackagerTypes.ts';
export type { Rendition } from './Rendition.ts';
export type { Part } from './part.ts';
export type { Segment } from './segment.ts';
export { parseObjectName, MEDIA_CACHE_CONTROL, MEDIA_CONTENT_TYPE, PLAYLIST_CACHE_CONTROL, PLAYLIST_CONTENT_TYPE, PLAYLIST_NAME } from './names.ts';
