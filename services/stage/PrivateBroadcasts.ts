/**
 * Which rooms broadcast privately: their HLS (playlists and media) needs a playback token. A
 * room's setting, kept by room id rather than on the Room, so that it outlives the room: the
 * objects a private room left in storage (a recording, the last live window) stay private after
 * the room closed. A room created again under the same id gets the setting it is created with;
 * a room never given one (the dev room, a room of another node's storage) has the default.
 * Held in memory on this node; in a cluster the owner also keeps it in Redis, so that the room's
 * next node takes it over (cluster/RoomState.ts).
 */
export class PrivateBroadcasts {
  /** The setting of a room never given one (config HLS_PRIVATE_DEFAULT). */
  readonly byDefault: boolean;
  private readonly settings = new Map<string, boolean>();
  private readonly onChange: ((room: string, isPrivate: boolean) => void) | undefined;

  /** `onChange` hears every setting made (the cluster keeps it for the room's next node). */
  constructor(byDefault = false, onChange?: (room: string, isPrivate: boolean) => void) {
    this.byDefault = byDefault;
    this.onChange = onChange;
  }

  /** Sets a room's setting; `undefined` applies the default. Returns the setting now in force. */
  set(room: string, isPrivate: boolean | undefined): boolean {
    const value = isPrivate ?? this.byDefault;
    this.onChange?.(room, value);
    // Only settings that differ from the default are kept, so rooms that come and go leave nothing.
    if (value === this.byDefault) this.settings.delete(room);
    else this.settings.set(room, value);
    return value;
  }

  isPrivate(room: string): boolean {
    return this.settings.get(room) ?? this.byDefault;
  }
}
