import { createSocket } from 'node:dgram';

/**
 * Finds a pair of free UDP ports on `ip` for one mirrored track (RTP, and RTCP on the next
 * port). Probed by binding, then released for ffmpeg to bind; ports are handed out in
 * rising order from `range` so two tracks never get the same pair while both live.
 */
export class MirrorPortAllocator {
  private readonly ip: string;
  private readonly range: [number, number];
  private next: number;
  private readonly inUse = new Set<number>();

  constructor(ip: string, range: [number, number]) {
    this.ip = ip;
    this.range = range;
    this.next = range[0] + (range[0] % 2);
  }

  async allocate(): Promise<{ rtpPort: number; rtcpPort: number }> {
    const span = this.range[1] - this.range[0];
    for (let tries = 0; tries < span / 2; tries++) {
      const rtp = this.next;
      this.next += 2;
      if (this.next + 1 > this.range[1]) this.next = this.range[0] + (this.range[0] % 2);
      if (this.inUse.has(rtp)) continue;
      if ((await this.free(rtp)) && (await this.free(rtp + 1))) {
        this.inUse.add(rtp);
        return { rtpPort: rtp, rtcpPort: rtp + 1 };
      }
    }
    throw new Error(`no free UDP port pair in ${this.range[0]}-${this.range[1]}`);
  }

  release(rtpPort: number): void {
    this.inUse.delete(rtpPort);
  }

  private free(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createSocket(this.ip.includes(':') ? 'udp6' : 'udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, this.ip, () => socket.close(() => resolve(true)));
    });
  }
}
