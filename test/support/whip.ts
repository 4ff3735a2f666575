import type { Page } from 'playwright-core';
import { installRtcHelpers, type RtcFns } from './rtcPage.ts';
import type { RunningService } from './service.ts';

/**
 * WHIP publish and WHEP play from a page with a plain RTCPeerConnection (no player code), for
 * the platform e2e tests (TURN, metrics, shutdown). Optional ICE servers and relay-only
 * transport policy; the page gathers fully before POSTing (the service does not trickle).
 */
export interface RtcOptions {
  iceServers?: RTCIceServer[];
  relay?: boolean;
  /** Longest wait for ICE gathering, ms. Default 8000. */
  gatherTimeoutMs?: number;
}

export interface WhipSession {
  status: number;
  location: string | null;
  /** The offer's candidate lines (to check e.g. that only relay candidates were offered). */
  candidates: string[];
}

async function offer(page: Page, role: 'pub' | 'sub', opts: RtcOptions): Promise<{ sdp: string; candidates: string[] }> {
  await installRtcHelpers(page);
  const config: RTCConfiguration = { iceServers: opts.iceServers ?? [], iceTransportPolicy: opts.relay ? 'relay' : 'all' };
  const sdp = await page.evaluate(
    ([r, c, t]) => {
      const fns = window as unknown as RtcFns;
      return r === 'pub' ? fns.__startPublisher(c, t) : fns.__startViewer(c, t);
    },
    [role, config, opts.gatherTimeoutMs ?? 8000] as const,
  );
  return { sdp, candidates: sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')) };
}

async function post(page: Page, role: 'pub' | 'sub', svc: RunningService, path: string, token: string, opts: RtcOptions): Promise<WhipSession> {
  const { sdp, candidates } = await offer(page, role, opts);
  const res = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' }, body: sdp });
  const body = await res.text();
  if (res.status === 201) {
    await page.evaluate(([r, answer]) => (window as unknown as Record<string, RTCPeerConnection>)[`__${r}`]!.setRemoteDescription({ type: 'answer', sdp: answer! }), [role, body] as const);
  }
  return { status: res.status, location: res.headers.get('location'), candidates };
}

/** Publishes the page's fake camera and microphone over WHIP (`__pub` in the page). */
export function publishWhip(page: Page, svc: RunningService, room: string, token: string, opts: RtcOptions = {}): Promise<WhipSession> {
  return post(page, 'pub', svc, `/whip/${encodeURIComponent(room)}`, token, opts);
}

/** Plays the stage over WHEP (`__sub` in the page). */
export function playWhep(page: Page, svc: RunningService, room: string, token: string, opts: RtcOptions = {}): Promise<WhipSession> {
  return post(page, 'sub', svc, `/whep/${encodeURIComponent(room)}`, token, opts);
}

export interface PeerReport {
  connectionState: string;
  framesDecoded: number;
  framesSent: number;
  localCandidateType?: string;
  remoteCandidateType?: string;
}

/** The page's `__pub` or `__sub` connection: state, frames, and the selected candidate pair's types. */
export function peerReport(page: Page, role: 'pub' | 'sub'): Promise<PeerReport> {
  return page.evaluate(async (r) => {
    const pc = (window as unknown as Record<string, RTCPeerConnection | undefined>)[`__${r}`];
    const report: PeerReport = { connectionState: pc?.connectionState ?? 'none', framesDecoded: 0, framesSent: 0 };
    if (!pc) return report;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') report.framesDecoded += s.framesDecoded ?? 0;
      if (s.type === 'outbound-rtp' && s.kind === 'video') report.framesSent += s.framesSent ?? 0;
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = stats.get(s.selectedCandidatePairId);
        report.localCandidateType = stats.get(pair?.localCandidateId)?.candidateType;
        report.remoteCandidateType = stats.get(pair?.remoteCandidateId)?.candidateType;
      }
    });
    return report;
  }, role);
}

