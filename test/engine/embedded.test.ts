import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { ThreadedEngine } from '../../services/engine/worker/ThreadedEngine.ts';
import { testEngine } from '../support/engines.ts';
import { CONTRACT_ICE_CONNECT_TIMEOUT_MS, engineContract } from './contract.ts';

const options = { listenIp: '127.0.0.1', portRange: [41000, 41999] as [number, number], iceConnectTimeoutMs: CONTRACT_ICE_CONNECT_TIMEOUT_MS };
const { skip } = testEngine('embedded');

engineContract('embedded (worker thread)', () => ThreadedEngine.start(options), { skip });
engineContract('embedded (same thread)', async () => new EmbeddedEngine(options), { skip });
