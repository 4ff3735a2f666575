/**
 * What the soak reads about the service process: /proc for its resident memory, open file
 * descriptors and child processes (ffmpeg, mediasoup workers), and its own /metrics for the V8
 * heap and libuv's active handles (prom-client's default process metrics).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parsePromText } from '../../test/support/promText.ts';

export interface ProcessSample {
  /** Resident set of the service's Node process, bytes. */
  rssBytes: number;
  openFds: number;
  /** ffmpeg processes whose parent is the service. */
  ffmpeg: number;
  /** Resident set of the mediasoup workers (children of the service), bytes; 0 with the embedded engine. */
  workerRssBytes: number;
}

export interface MetricsSample {
  heapUsedBytes: number;
  activeHandles: number;
}

function statusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** `[pid, ppid, comm]` of every process, read from /proc/<pid>/stat. */
function processes(): Array<{ pid: number; ppid: number; comm: string }> {
  const out: Array<{ pid: number; ppid: number; comm: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // comm is in parentheses and may contain spaces; the fields after the last ')' are fixed.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    out.push({ pid: Number(entry), ppid, comm });
  }
  return out;
}

export function sampleProcess(pid: number): ProcessSample {
  const children = processes().filter((p) => p.ppid === pid);
  let workerRssBytes = 0;
  for (const child of children) {
    if (!child.comm.startsWith('mediasoup')) continue;
    try {
      workerRssBytes += statusField(child.pid, 'VmRSS');
    } catch {
      // exited meanwhile
    }
  }
  return {
    rssBytes: statusField(pid, 'VmRSS'),
    openFds: readdirSync(`/proc/${pid}/fd`).length,
    ffmpeg: children.filter((c) => c.comm === 'ffmpeg').length,
    workerRssBytes,
  };
}

/** Heap and handles from the service's Prometheus text (`stagecast_nodejs_*`). */
export function metricsFromText(text: string): MetricsSample {
  const { samples } = parsePromText(text);
  const value = (name: string) => samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
  return {
    heapUsedBytes: value('stagecast_nodejs_heap_size_used_bytes'),
    activeHandles: value('stagecast_nodejs_active_handles_total'),
  };
}
