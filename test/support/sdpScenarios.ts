import type { Page } from 'playwright-core';

/** The offers the SDP bridge is tested with: simulcast, single encoding, H264 first, WHEP recvonly. */
export type OfferScenario = 'simulcast' | 'single' | 'h264' | 'whep';

/**
 * Runs in the page. An RTCPeerConnection set up for `scenario` (fake camera and microphone at
 * the given size), with its offer as local description and ICE gathering complete. Installed
 * as `window.__scenarioPeerConnection` by `installScenarioPeerConnection`; must stay
 * self-contained, because its source is what the page receives.
 */
export async function scenarioPeerConnection(scenario: OfferScenario, size: { width: number; height: number }): Promise<RTCPeerConnection> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  if (scenario === 'whep') {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  } else {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: size });
    const [audio] = stream.getAudioTracks();
    const [video] = stream.getVideoTracks();
    pc.addTransceiver(audio!, { direction: 'sendonly', streams: [stream] });
    const sendEncodings =
      scenario === 'simulcast'
        ? [
            { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
            { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
            { rid: 'f', maxBitrate: 1_500_000 },
          ]
        : undefined;
    const transceiver = pc.addTransceiver(video!, { direction: 'sendonly', streams: [stream], sendEncodings });
    if (scenario === 'h264') {
      const codecs = RTCRtpSender.getCapabilities('video')!.codecs;
      const mode1 = codecs.filter((c) => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine ?? ''));
      const baseline = mode1.filter((c) => /profile-level-id=42e01f/.test(c.sdpFmtpLine ?? ''));
      const chosen = baseline.length ? baseline : mode1.slice(0, 1);
      if (!chosen.length) throw new Error('this Chromium offers no H264 with packetization-mode=1');
      transceiver.setCodecPreferences([...chosen, ...codecs.filter((c) => !chosen.includes(c))]);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve()));
  }
  return pc;
}

/** Makes `window.__scenarioPeerConnection` available in the page. */
export async function installScenarioPeerConnection(page: Page): Promise<void> {
  await page.evaluate(`window.__scenarioPeerConnection = ${scenarioPeerConnection.toString()}`);
}

export type ScenarioWindow = { __scenarioPeerConnection: typeof scenarioPeerConnection };
