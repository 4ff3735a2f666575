import type { Storage } from '../storage/Storage.ts';
import { parseRecordingInfo, RECORDING_MANIFEST, recordingPrefix, RECORDINGS_FOLDER, type RecordingInfo } from './recording.ts';

/**
 * The recordings of rooms, as storage holds them (see recording.ts for the layout): listed from
 * their manifests, and erased object by object. Works the same on disk and S3.
 */
export class RecordingStore {
  private readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  /** A room's recordings, newest first. */
  async list(roomId: string): Promise<RecordingInfo[]> {
    const folder = `${roomId}/${RECORDINGS_FOLDER}/`;
    const manifests = (await this.storage.list(folder)).filter((key) => {
      const rest = key.slice(folder.length).split('/');
      return rest.length === 2 && rest[1] === RECORDING_MANIFEST;
    });
    const infos: RecordingInfo[] = [];
    for (const key of manifests) {
      const object = await this.storage.get(key);
      const info = object && parseRecordingInfo(object.body);
      if (info && info.roomId === roomId) infos.push(info);
    }
    return infos.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  async get(roomId: string, id: string): Promise<RecordingInfo | undefined> {
    const object = await this.storage.get(`${recordingPrefix(roomId, id)}/${RECORDING_MANIFEST}`);
    return object ? parseRecordingInfo(object.body) : undefined;
  }

  /**
   * Deletes every object of one recording, the manifest first (it stops being listed at once).
   * False when there was none. Throws if storage fails; a retry finishes the job.
   */
  async delete(roomId: string, id: string): Promise<boolean> {
    const prefix = `${recordingPrefix(roomId, id)}/`;
    const keys = await this.storage.list(prefix);
    if (keys.length === 0) return false;
    const manifest = `${prefix}${RECORDING_MANIFEST}`;
    if (keys.includes(manifest)) await this.storage.delete(manifest);
    for (const key of keys) if (key !== manifest) await this.storage.delete(key);
    return true;
  }
}
