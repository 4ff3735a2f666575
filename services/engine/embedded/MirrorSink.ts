import { createSocket, type Socket } from 'node:dgram';
import type { RtcpPacket, RtpPacket } from 'werift';
import { RtcpSrPacket } from 'werift';
import type { MirrorTarget, StageTrack } from '../EngineTypes.ts';
import type { RTCRtpCodecParameters } from 'werift';

/**
 * Sends one stage track as plain RTP/RTCP over UDP to a local reader (the broadcast
 * pipeline's ffmpeg). Packets keep the publisher's SSRC, sequence numbers and timestamps, so
 * the publisher's own sender reports apply unchanged and the reader can sync audio and video.
 */
export class MirrorSink {
  readonly target: MirrorTarget;
  private readonly socket: Socket;
  private closed = false;
  packetsSent = 0;

  constructor(target: MirrorTarget, bindIp: string) {
    this.target = target;
    this.socket = createSocket(target.ip.includes(':') ? 'udp6' : 'udp4');
    // The reader may not be listening yet (ffmpeg starting or restarting): ICMP errors are expected.
    this.socket.on('error', () => {});
    this.socket.bind(0, bindIp);
  }

  sendRtp(packet: RtpPacket): void {
    if (this.closed) return;
    this.packetsSent++;
    this.socket.send(packet.serialize(), this.target.rtpPort, this.target.ip);
  }

  sendRtcp(packet: RtcpPacket): void {
    if (this.closed || !(packet instanceof RtcpSrPacket)) return;
    this.socket.send(packet.serialize(), this.target.rtcpPort, this.target.ip);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/** The SDP a plain-RTP reader needs for this mirrored track. */
export function mirrorSdp(track: StageTrack, codec: RTCRtpCodecParameters, target: MirrorTarget): string {
  const family = target.ip.includes(':') ? 'IP6' : 'IP4';
  const [, encoding] = codec.mimeType.split('/');
  const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
  return [
    'v=0',
    `o=- 0 0 IN ${family} ${target.ip}`,
    `s=stagecast mirror ${track.trackId}`,
    `c=IN ${family} ${target.ip}`,
    't=0 0',
    `m=${track.kind} ${target.rtpPort} RTP/AVP ${codec.payloadType}`,
    `a=rtpmap:${codec.payloadType} ${encoding}/${codec.clockRate}${channels}`,
    ...(codec.parameters ? [`a=fmtp:${codec.payloadType} ${codec.parameters}`] : []),
    `a=rtcp:${target.rtcpPort}`,
    'a=recvonly',
    '',
  ].join('\r\n');
}
