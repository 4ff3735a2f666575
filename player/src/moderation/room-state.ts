import { EventEmitter } from '../core/event-emitter.ts';
import type { ParticipantInfo, Role, ServerMessage, TrackInfo } from '../signaling/signaling-types.ts';
import type { BlockInfo, HandInfo, JoinedMessage, MediaKind } from './moderation-types.ts';

export interface ParticipantView {
  participantId: string;
  identity: string;
  role: Role;
  transport: string;
  publishing: boolean;
  handRaised: boolean;
  muted: MediaKind[];
  /** Its live stage tracks, by kind. */
  tracks: Partial<Record<MediaKind, TrackInfo>>;
}

export type BroadcastState = 'unknown' | 'none' | 'live' | 'ended';

type RoomStateEvents = { change: [] };

/**
 * The room as a moderator sees it, kept from `joined` and the events that follow: participants
 * with their current roles, mute and hand state, the hand queue in order, blocked identities,
 * and whether the broadcast is live. `apply(message)` takes any server message and ignores the
 * ones it does not care about; `change` fires after each one that changed something.
 */
export class RoomState extends EventEmitter<RoomStateEvents> {
  readonly selfId: string;
  readonly roomId: string;
  private readonly participants = new Map<string, ParticipantView>();
  private queue: HandInfo[] = [];
  private blockList: BlockInfo[] = [];
  private broadcastState: BroadcastState = 'unknown';

  constructor(joined: JoinedMessage) {
    super();
    this.selfId = joined.participantId;
    this.roomId = joined.roomId;
    if (joined.broadcast) this.broadcastState = joined.broadcast;
    for (const p of joined.participants) this.upsert(p);
    for (const t of joined.tracks) this.trackUp(t);
    this.queue = joined.handQueue ?? [];
    this.blockList = joined.blocks ?? [];
  }

  /** In join order. */
  list(): ParticipantView[] {
    return [...this.participants.values()];
  }

  get(participantId: string): ParticipantView | undefined {
    return this.participants.get(participantId);
  }

  /** Oldest first. */
  get handQueue(): HandInfo[] {
    return this.queue;
  }

  get blocks(): BlockInfo[] {
    return this.blockList;
  }

  get broadcast(): BroadcastState {
    return this.broadcastState;
  }

  apply(message: ServerMessage): void {
    switch (message.type) {
      case 'participantJoined':
        this.upsert(message.participant);
        break;
      case 'participantLeft':
        this.participants.delete(message.participantId);
        this.queue = this.queue.filter((h) => h.participantId !== message.participantId);
        break;
      case 'roleChanged':
        this.patch(message.participantId, { role: message.role });
        break;
      case 'handRaised':
        if (message.queue) this.queue = message.queue;
        this.patch(message.participantId, { handRaised: true });
        break;
      case 'handLowered':
        if (message.queue) this.queue = message.queue;
        this.patch(message.participantId, { handRaised: false });
        break;
      case 'trackPublished':
        this.trackUp(message.track);
        break;
      case 'trackUnpublished': {
        const p = this.participants.get(message.track.participantId);
        if (p && p.tracks[message.track.kind]?.trackId === message.track.trackId) delete p.tracks[message.track.kind];
        if (p) p.publishing = Object.keys(p.tracks).length > 0;
        break;
      }
      case 'trackMuted':
      case 'trackUnmuted': {
        const p = this.participants.get(message.participantId);
        if (!p) return;
        const muted = new Set(p.muted);
        if (message.type === 'trackMuted') muted.add(message.kind);
        else muted.delete(message.kind);
        p.muted = [...muted].sort();
        break;
      }
      case 'identityBlocked':
        this.blockList = [...this.blockList.filter((b) => b.identity !== message.block.identity), message.block];
        break;
      case 'identityUnblocked':
        this.blockList = this.blockList.filter((b) => b.identity !== message.identity);
        break;
      case 'broadcastStarted':
        this.broadcastState = 'live';
        break;
      case 'broadcastEnded':
        this.broadcastState = 'ended';
        break;
      default:
        return;
    }
    this.emit('change');
  }

  private upsert(p: ParticipantInfo): void {
    const existing = this.participants.get(p.participantId);
    this.participants.set(p.participantId, {
      participantId: p.participantId,
      identity: p.identity,
      role: p.role,
      transport: p.transport ?? 'signaling',
      publishing: p.publishing,
      handRaised: p.handRaised ?? false,
      muted: p.muted ?? [],
      tracks: existing?.tracks ?? {},
    });
  }

  private patch(participantId: string, changes: Partial<ParticipantView>): void {
    const p = this.participants.get(participantId);
    if (p) Object.assign(p, changes);
  }

  private trackUp(track: TrackInfo): void {
    const p = this.participants.get(track.participantId);
    if (!p) return;
    p.tracks[track.kind] = track;
    p.publishing = true;
  }
}
