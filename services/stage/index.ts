export { BlockList } from './BlockList.ts';
export { HandQueue } from './HandQueue.ts';
export { Participant } from './Participant.ts';
export { can, assertCan, type StageAction } from './permissions.ts';
export { Room } from './Room.ts';
export { RoomRegistry, ROOM_ID_PATTERN } from './RoomRegistry.ts';
export type * from './StageTypes.ts';
