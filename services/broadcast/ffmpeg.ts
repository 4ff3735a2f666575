/**
 * The one module that touches fluent-ffmpeg (its upstream is archived; swapping it out must
 * stay a change to this file alone). fluent-ffmpeg builds the argument list; we spawn ffmpeg
 * ourselves with node:child_process because fluent-ffmpeg can pipe at most one output, and we
 * need one pipe per rendition: output i is written by ffmpeg to `pipe:<3 + i>`, which is
 * file descriptor 3 + i of the child.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { logger as rootLogger, type Logger } from '../core/logger.ts';
import { CONFIG_DEFAULTS } from '../core/config.ts';

/** An RTP session described by SDP (the engine's mirror), or a lavfi graph (tests, slates). */
export type FfmpegInput =
  | { type: 'sdp'; sdp: string }
  | {
      type: 'lavfi';
      graph: string;
      /** Read at native rate (`-re`), as a live source would arrive. Default false. */
      realtime?: boolean;
    };

export interface FfmpegOutput {
  /** Filter labels or stream specifiers mapped into this output, e.g. `[v0]`, `0:a:0`. */
  maps: string[];
  /** Codec and muxer options, in order, e.g. `['-c:v', 'libx264', '-f', 'mp4']`. */
  options: string[];
}

export interface FfmpegCommandSpec {
  inputs: FfmpegInput[];
  /** `-filter_complex` graph. Default: none. */
  filterComplex?: string;
  /** Output i goes to `pipe:<3 + i>`. At least one. */
  outputs: FfmpegOutput[];
  /** ffmpeg `-loglevel`. Default `warning`. */
  logLevel?: 'quiet' | 'error' | 'warning' | 'info' | 'verbose' | 'debug';
}

/**
 * Input options that make ffmpeg start on live RTP within a frame or two: no probing beyond
 * the SDP (codecs are known from rtpmap, sizes come from the first decoded frame), no input
 * buffering, a bounded reorder queue (loopback rarely reorders) and a socket buffer large
 * enough for a keyframe burst while ffmpeg is busy encoding.
 *
 * Timestamps are arrival (wall-clock) times. ffmpeg 5.1's own RTP timing switches each stream
 * from "relative to its first packet" to "RTCP sender-report time" when that stream's first
 * report arrives (up to 5 s in), so streams jump against each other, the muxer holds one back
 * to interleave, and output stalls or lags by seconds; measured here after every restart.
 * Arrival time on loopback from the SFU keeps tracks within a few tens of ms of each other.
 */
const SDP_INPUT_OPTIONS = [
  '-protocol_whitelist', 'file,udp,rtp',
  '-fflags', 'nobuffer',
  '-flags', 'low_delay',
  '-analyzeduration', '0',
  '-probesize', '32',
  '-reorder_queue_size', '64',
  '-buffer_size', String(4 * 1024 * 1024),
  '-use_wallclock_as_timestamps', '1',
  '-f', 'sdp',
];

const GLOBAL_OPTIONS = ['-hide_banner', '-nostdin', '-nostats'];

/** Where each input comes from on the command line: a written SDP file, or the lavfi graph itself. */
export type InputSources = string[];

/**
 * The full ffmpeg argument list for `spec`, built through fluent-ffmpeg. `sources[i]` is what
 * follows `-i` for input i (an SDP file path for `sdp` inputs).
 */
export function buildFfmpegArgs(spec: FfmpegCommandSpec, sources: InputSources): string[] {
  if (spec.outputs.length === 0) throw new TypeError('an ffmpeg command needs at least one output');
  if (sources.length !== spec.inputs.length) throw new TypeError('one source per input is required');
  const command = ffmpeg();
  spec.inputs.forEach((input, i) => {
    command.input(sources[i]!);
    if (input.type === 'sdp') command.inputOptions(SDP_INPUT_OPTIONS);
    else command.inputOptions([...(input.realtime ? ['-re'] : []), '-f', 'lavfi']);
  });
  if (spec.filterComplex) command.complexFilter(spec.filterComplex);
  spec.outputs.forEach((output, i) => {
    command.output(`pipe:${3 + i}`);
    // Maps are output options: each -map binds to the output that follows it.
    command.outputOptions([...output.maps.flatMap((m) => ['-map', m]), ...output.options]);
  });
  const built = (command as unknown as { _getArguments(): string[] })._getArguments();
  return [...GLOBAL_OPTIONS, '-loglevel', spec.logLevel ?? 'warning', ...built];
}

export type FfmpegProcessEvents = {
  /** ffmpeg ended (or could not start: code and signal are then null). Emitted once. */
  exit: [code: number | null, signal: NodeJS.Signals | null];
  /** One line ffmpeg wrote to stderr. */
  stderr: [line: string];
  /**
   * ffmpeg has bound every RTP port of its SDP inputs (seen in /proc/net/udp), so packets sent
   * from now on are received: the moment to ask publishers for a keyframe. Emitted at most once.
   */
  listening: [];
};

export interface FfmpegSpawnOptions {
  /** ffmpeg binary. Config: FFMPEG_PATH (its default when absent). */
  binary?: string;
  logger?: Logger;
}

const STDERR_LINES_KEPT = 40;
const LISTEN_POLL_MS = 20;
const LISTEN_GIVE_UP_MS = 10_000;
/** How long a stopping ffmpeg gets after SIGTERM to flush before it is killed, unless the caller says otherwise. */
const STOP_GRACE_MS = 1000;
let clockTicksPerSecond: number | undefined;

/**
 * One running ffmpeg. Owns its temp directory (the SDP files), which it removes once ffmpeg
 * has exited. Output streams end when ffmpeg exits; a consumer must keep reading them, or
 * ffmpeg blocks on the full pipe and every rendition stalls.
 */
export class FfmpegProcess extends EnhancedEventEmitter<FfmpegProcessEvents> {
  readonly args: string[];
  readonly child: ChildProcess;
  /** Output i's fMP4 (or whatever its options mux) byte stream, from fd 3 + i. */
  readonly outputs: Readable[];
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** `Date.now()` at spawn. */
  readonly startedAt: number;
  #exited = false;
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  #exitPromise: Promise<void>;
  #tmpDir: string | undefined;
  #stderrTail: string[] = [];
  #lastCpuMicros = 0;
  readonly #logger: Logger;

  constructor(spec: FfmpegCommandSpec, options: FfmpegSpawnOptions = {}) {
    super();
    this.#logger = options.logger ?? rootLogger.child({ mod: 'ffmpeg' });
    const sources = spec.inputs.map((input, i) => {
      if (input.type === 'lavfi') return input.graph;
      this.#tmpDir ??= mkdtempSync(join(tmpdir(), 'stagecast-ffmpeg-'));
      const file = join(this.#tmpDir, `input${i}.sdp`);
      writeFileSync(file, input.sdp);
      return file;
    });
    try {
      this.args = buildFfmpegArgs(spec, sources);
    } catch (err) {
      this.#removeTmp();
      throw err;
    }
    const binary = options.binary ?? CONFIG_DEFAULTS.FFMPEG_PATH;
    const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', ...spec.outputs.map(() => 'pipe' as const)];
    this.startedAt = Date.now();
    this.child = spawn(binary, this.args, { stdio });
    this.stdout = this.child.stdout!;
    this.stderr = this.child.stderr!;
    this.outputs = spec.outputs.map((_, i) => this.child.stdio[3 + i] as Readable);
    this.stdout.resume();
    this.#readStderr();

    let resolveExit!: () => void;
    this.#exitPromise = new Promise((resolve) => (resolveExit = resolve));
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.#exited) return;
      this.#exited = true;
      this.#exitCode = code;
      this.#exitSignal = signal;
      this.#removeTmp();
      resolveExit();
      this.safeEmit('exit', code, signal);
    };
    this.child.once('exit', onExit);
    this.#watchListening(spec.inputs.flatMap((input) => (input.type === 'sdp' ? sdpPorts(input.sdp) : [])));
    this.child.once('error', (err) => {
      // Spawn failures (ENOENT) emit only 'error'; a failed kill() also lands here, harmlessly.
      this.#logger.error({ err: err.message }, 'ffmpeg process error');
      if (this.child.pid === undefined) onExit(null, null);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  get exitSignal(): NodeJS.Signals | null {
    return this.#exitSignal;
  }

  /** Resolves once ffmpeg has exited and its temp files are gone. */
  get exitedPromise(): Promise<void> {
    return this.#exitPromise;
  }

  /** The last lines ffmpeg wrote to stderr, oldest first, for diagnosing an exit. */
  stderrTail(): string[] {
    return [...this.#stderrTail];
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.#exited || this.child.pid === undefined) return;
    try {
      this.child.kill(signal);
    } catch {
      // Already gone: the exit event follows.
    }
  }

  /**
   * Asks ffmpeg to finish (SIGTERM lets it flush the current fragment), and kills it if it has
   * not exited after `graceMs`. Resolves when it has exited. Idempotent.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.#exited) return this.#exitPromise;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.#exitPromise;
    clearTimeout(timer);
  }

  /**
   * CPU time (user + system) ffmpeg has used, microseconds, from /proc/<pid>/stat. After exit
   * it returns the last value read, so call it periodically to account for a process that dies.
   */
  cpuMicros(): number {
    const pid = this.child.pid;
    if (this.#exited || pid === undefined) return this.#lastCpuMicros;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (Number.isFinite(ticks)) this.#lastCpuMicros = Math.round((ticks * 1e6) / clockTicks());
    } catch {
      // Not on Linux, or the process just went away.
    }
    return this.#lastCpuMicros;
  }

  #readStderr(): void {
    let pending = '';
    this.stderr.setEncoding('utf8');
    this.stderr.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.search(/[\r\n]/)) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        this.#stderrTail.push(line);
        if (this.#stderrTail.length > STDERR_LINES_KEPT) this.#stderrTail.shift();
        this.#logger.debug({ pid: this.child.pid, line }, 'ffmpeg');
        this.safeEmit('stderr', line);
      }
    });
  }

  #watchListening(ports: number[]): void {
    if (ports.length === 0) {
      setImmediate(() => this.#exited || this.safeEmit('listening'));
      return;
    }
    const since = Date.now();
    const poll = setInterval(() => {
      if (this.#exited || Date.now() - since > LISTEN_GIVE_UP_MS) {
        clearInterval(poll);
        return;
      }
      const bound = boundUdpPorts();
      if (ports.every((p) => bound.has(p))) {
        clearInterval(poll);
        this.safeEmit('listening');
      }
    }, LISTEN_POLL_MS);
    poll.unref();
  }

  #removeTmp(): void {
    if (!this.#tmpDir) return;
    rmSync(this.#tmpDir, { recursive: true, force: true });
    this.#tmpDir = undefined;
  }
}

/** RTP ports (the m= lines) an SDP asks the receiver to listen on. */
function sdpPorts(sdp: string): number[] {
  return [...sdp.matchAll(/^m=\w+ (\d+) /gm)].map((m) => Number(m[1]));
}

/** Local UDP ports bound on this host, from /proc/net/udp{,6}; empty where there is no /proc. */
function boundUdpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let table: string;
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local?.split(':')[1];
      if (port) ports.add(parseInt(port, 16));
    }
  }
  return ports;
}

function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}
