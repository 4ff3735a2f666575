export { AudienceTicker, countAudience, AUDIENCE_INTERVAL_MS } from './Audience.ts';
export { BlockList } from './BlockList.ts';
export { Chat, SYSTEM_AUTHOR, type ChatOptions } from './Chat.ts';
export { HandQueue } from './HandQueue.ts';
export { Participant } from './Participant.ts';
export { can, assertCan, type StageAction } from './permissions.ts';
export { Room } from './Room.ts';
export { RoomRegistry, ROOM_ID_PATTERN } from './RoomRegistry.ts';
export type * from './StageTypes.ts';
