import { createSocket, type Socket } from 'node:dgram';
import type { RtcpPacket, RtpPacket } from 'werift';
import { RtcpSrPacket } from 'werift';
import type { MirrorTarget } from '../EngineTypes.ts';

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
