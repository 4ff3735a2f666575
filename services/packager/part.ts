/**
 * An LL-HLS partial segment: exactly one fMP4 fragment (moof + mdat) of one rendition.
 */
export interface Part {
  /** Rendition-wide running number; names the object (see names.ts) so that the next
   * part's URI is known before we know which segment it will belong to (PRELOAD-HINT). */
  id: number;
  /** Media sequence number of the segment this part belongs to. */
  msn: number;
  /** Position within its segment, from 0. */
  index: number;
  durationSec: number;
  /** True when the part starts with a sync sample (IDR): EXT-X-PART INDEPENDENT=YES. */
  independent: boolean;
  data: Buffer;
}
