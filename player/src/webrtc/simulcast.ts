/**
 * Simulcast policy: what the studio sends when the engine does simulcast
 * (`joined.capabilities.simulcast`), and which layer a stage tile asks for by its size.
 */

/** The three encodings, low → high: quarter, half and full resolution. */
export const SIMULCAST_ENCODINGS: readonly RTCRtpEncodingParameters[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** Three temporal layers per encoding, so a subscriber can also drop frame rate. */
export const SIMULCAST_SCALABILITY_MODE = 'L1T3';

/** The encodings, with `scalabilityMode` when asked for (not every browser takes it). */
export function simulcastEncodings(withScalabilityMode: boolean): RTCRtpEncodingParameters[] {
  return SIMULCAST_ENCODINGS.map((e) => (withScalabilityMode ? { ...e, scalabilityMode: SIMULCAST_SCALABILITY_MODE } : { ...e }));
}

/**
 * Largest displayed width (device pixels) each lower layer is good for, for a nominal 1280 px
 * source: up to 360 px the quarter layer, up to 720 px the half layer, above that the full one.
 */
export const DEFAULT_LAYER_WIDTHS_PX: readonly number[] = [360, 720];

/** The spatial layer (0 = lowest) for a tile shown `widthPx` device pixels wide. */
export function spatialLayerForWidth(widthPx: number, thresholds: readonly number[] = DEFAULT_LAYER_WIDTHS_PX): number {
  const index = thresholds.findIndex((max) => widthPx <= max);
  return index < 0 ? thresholds.length : index;
}
