import { mediasoupTestEngine } from '../support/mediasoupEngine.ts';
import { testEngine } from '../support/engines.ts';
import { CONTRACT_ICE_CONNECT_TIMEOUT_MS, engineContract } from './contract.ts';

// Built the way the service builds it (config → createEngine), so worker lookup and options
// are the service's own. Where no worker binary exists (mediasoup's install cannot fetch one
// without access to its download hosts) this skips, saying why.
const { skip } = testEngine('mediasoup');

engineContract('mediasoup', () => mediasoupTestEngine(19000, { ICE_CONNECT_TIMEOUT_MS: String(CONTRACT_ICE_CONNECT_TIMEOUT_MS) }), { skip });
