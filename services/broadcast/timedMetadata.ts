import { randomBytes } from 'node:crypto';
import { InvalidStateError, ServiceError } from '../core/errors.ts';
import type { HlsPackager } from '../packager/index.ts';

/** EXT-X-DATERANGE CLASS of timed metadata; the player acts on this class only. */
export const METADATA_CLASS = 'com.stagecast.metadata';
/** Largest payload, as serialized JSON (UTF-8 bytes). */
export const MAX_METADATA_BYTES = 1024;

/** One timed-metadata item, as the API returns it and signaling (`metadata`) carries it. */
export interface TimedMetadata {
  /** Also the EXT-X-DATERANGE ID. */
  id: string;
  payload: unknown;
  /** START-DATE: the media time it is attached to, on the broadcast's PROGRAM-DATE-TIME timeline (ISO 8601). */
  at: string;
}

/**
 * Serializes `payload` and checks its size: `payload_too_large` (413) past MAX_METADATA_BYTES,
 * `bad_request` when it is not JSON-serializable.
 */
export function serializeMetadata(payload: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch {
    json = undefined;
  }
  if (json === undefined) throw new ServiceError('bad_request', 'payload must be a JSON value');
  if (Buffer.byteLength(json, 'utf8') > MAX_METADATA_BYTES) {
    throw new ServiceError('payload_too_large', `payload must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }
  return json;
}

/**
 * Inserts a payload at the current media time of a live packager: an EXT-X-DATERANGE at the
 * live edge of every rendition. 409 `invalid_state` while no media has been packaged yet.
 */
export function insertMetadata(packager: HlsPackager, payload: unknown): TimedMetadata {
  const json = serializeMetadata(payload);
  const id = `m-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const at = packager.insertDateRange({ id, classId: METADATA_CLASS, payload: Buffer.from(json, 'utf8').toString('base64') });
  if (!at) throw new InvalidStateError('the broadcast has no media yet');
  return { id, payload: JSON.parse(json) as unknown, at: at.toISOString() };
}
