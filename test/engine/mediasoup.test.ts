import { loadConfig } from '../../services/core/config.ts';
import { createEngine } from '../../services/engine/index.ts';
import { testEngine } from '../helpers/engines.ts';
import { engineContract } from './contract.ts';

// Built the way the service builds it (config → createEngine), so worker lookup and options
// are the service's own. Where no worker binary exists (mediasoup's install cannot fetch one
// without access to its download hosts) this skips, saying why.
const { skip } = testEngine('mediasoup');

engineContract(
  'mediasoup',
  () =>
    createEngine(
      loadConfig({
        API_KEY: 'engine-contract-unused',
        JWT_SECRET: 'engine-contract-unused-engine-contract-unused',
        ENGINE: 'mediasoup',
        MEDIA_IP: '127.0.0.1',
        MEDIA_PORT_RANGE: '19000-19499', // below the ephemeral ports: WebRtcServer ports are fixed
        MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN,
      }),
    ),
  { skip },
);
