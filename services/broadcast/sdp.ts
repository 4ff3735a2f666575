import { InvalidSdpError } from '../core/errors.ts';
import type { MediaKind } from '../engine/EngineTypes.ts';

/** One media section (`m=` line and the lines under it) of a plain-RTP SDP. */
export interface SdpMediaSection {
  kind: MediaKind;
  port: number;
  /** The section's lines, starting with its `m=` line, with a `c=` line copied from the session if it had none. */
  lines: string[];
}

/**
 * Splits a plain-RTP SDP (as the engine's mirror or ffmpeg's `-sdp_file` writes it) into its
 * media sections. Session-level `c=` is pushed down into sections that lack their own, so each
 * section stands alone and can be recombined with `joinSdp`.
 */
export function splitSdp(sdp: string): SdpMediaSection[] {
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new InvalidSdpError('SDP must start with v=0');
  let sessionConnection: string | undefined;
  const sections: SdpMediaSection[] = [];
  let current: SdpMediaSection | undefined;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const m = /^m=(audio|video) (\d+) /.exec(line);
      if (!m) throw new InvalidSdpError(`unsupported media line: ${line.slice(0, 40)}`);
      current = { kind: m[1] as MediaKind, port: Number(m[2]), lines: [line] };
      sections.push(current);
    } else if (current) {
      current.lines.push(line);
    } else if (line.startsWith('c=')) {
      sessionConnection = line;
    }
  }
  for (const section of sections) {
    if (!section.lines.some((l) => l.startsWith('c='))) {
      if (!sessionConnection) throw new InvalidSdpError('SDP media section has no connection (c=) line');
      section.lines.splice(1, 0, sessionConnection);
    }
  }
  if (sections.length === 0) throw new InvalidSdpError('SDP has no audio or video section');
  return sections;
}

/**
 * One SDP carrying every given section, so that ffmpeg opens (binds) every track's ports at
 * once: separate `-i` inputs open one after another, each waiting for a first packet, so one
 * silent track would keep the rest from starting.
 */
export function joinSdp(sections: SdpMediaSection[]): string {
  const ports = new Set<number>();
  for (const s of sections) {
    if (ports.has(s.port)) throw new TypeError(`two stage inputs use RTP port ${s.port}`);
    ports.add(s.port);
  }
  const connection = sections[0]?.lines.find((l) => l.startsWith('c=')) ?? 'c=IN IP4 127.0.0.1';
  const family = connection.includes('IP6') ? 'IP6' : 'IP4';
  const address = connection.split(' ')[2] ?? '127.0.0.1';
  return [
    'v=0',
    `o=- 0 0 IN ${family} ${address}`,
    's=stagecast stage',
    't=0 0',
    ...sections.flatMap((s) => s.lines),
    '',
  ].join('\r\n');
}
