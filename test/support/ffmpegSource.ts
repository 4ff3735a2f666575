import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export const FFMPEG = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';

export interface FfmpegSource {
  stdout: Readable;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** SIGKILLs the process (an ffmpeg crash, as far as the packager can tell) and waits for it. */
  kill(): Promise<void>;
}

export interface FfmpegSourceOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Stop after this many seconds of media; default: run until killed. */
  durationSec?: number;
  /** Real-time pacing (-re), as a live transcoder delivers. Default true. */
  realtime?: boolean;
  videoBitrate?: string;
}

/**
 * Real ffmpeg producing what the broadcast transcoder produces: H.264 + AAC in fragmented MP4
 * (empty_moov, one fragment per ~200 ms, every GOP of 1 s starting a fragment).
 */
export function startFfmpegSource(options: FfmpegSourceOptions = {}): FfmpegSource {
  const { width = 640, height = 360, fps = 30, realtime = true, videoBitrate = '600k' } = options;
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  if (realtime) args.push('-re');
  args.push('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`);
  if (realtime) args.push('-re');
  args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  if (options.durationSec) args.push('-t', String(options.durationSec));
  args.push(
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-b:v', videoBitrate,
    '-g', String(fps), '-keyint_min', String(fps), '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2',
    '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe+cmaf', '-frag_duration', '200000',
    'pipe:1',
  );
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    stdout: child.stdout!,
    process: child,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
