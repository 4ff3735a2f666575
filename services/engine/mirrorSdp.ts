import type { MirrorTarget, StageTrack } from './EngineTypes.ts';

/** The one codec a mirrored track is sent with. */
export interface MirrorCodec {
  payloadType: number;
  /** Encoding name, e.g. "VP8", "opus". */
  name: string;
  clockRate: number;
  channels?: number | undefined;
  /** fmtp value ("a=b;c=d"), if any. */
  fmtp?: string | undefined;
}

/**
 * The SDP a plain-RTP reader (the broadcast pipeline's ffmpeg, `-f sdp`) needs for one mirrored
 * track: RTP on `target.rtpPort`, RTCP on its own port. Both engines describe their mirrors
 * with it.
 */
export function mirrorSdp(track: StageTrack, codec: MirrorCodec, target: MirrorTarget): string {
  const family = target.ip.includes(':') ? 'IP6' : 'IP4';
  const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
  return [
    'v=0',
    `o=- 0 0 IN ${family} ${target.ip}`,
    `s=stagecast mirror ${track.trackId}`,
    `c=IN ${family} ${target.ip}`,
    't=0 0',
    `m=${track.kind} ${target.rtpPort} RTP/AVP ${codec.payloadType}`,
    `a=rtpmap:${codec.payloadType} ${codec.name}/${codec.clockRate}${channels}`,
    ...(codec.fmtp ? [`a=fmtp:${codec.payloadType} ${codec.fmtp}`] : []),
    `a=rtcp:${target.rtcpPort}`,
    'a=recvonly',
    '',
  ].join('\r\n');
}
