import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Every setting the service reads, with its default documented once, here. The README's
 * configuration table mirrors this schema. Unknown variables with our prefix-free names are
 * not detectable in a shared environment, so `loadConfig` rejects unknown keys only in the
 * object it is given explicitly (tests, embedding); from `process.env` it reads just the keys
 * below and validates each.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** libx264 presets the broadcast encoder accepts, fastest first. */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast'] as const;
export type X264Preset = (typeof X264_PRESETS)[number];
/** BROADCAST_X264_PRESET's default, exported for the encoder's callers that take no config (tests, benches). */
export const DEFAULT_X264_PRESET: X264Preset = 'superfast';
/** SDP_MAX_MEDIA_SECTIONS's default, exported for the stage's callers that take no config (tests, benches). */
export const DEFAULT_SDP_MAX_MEDIA_SECTIONS = 16;

export const configSchema = z
  .object({
    /** HTTP and WebSocket port. Default 8080; 0 picks a free port. */
    PORT: int(0, 65535).default(8080),
    /** Address the HTTP server listens on. Default 127.0.0.1. */
    HOST: z.string().min(1).default('127.0.0.1'),
    /** Public base URL printed in dev mode and used in WHIP/WHEP Location headers. Default derived from HOST and PORT: https://… with TLS, else http://…. */
    PUBLIC_URL: z.url().optional(),
    /** PEM certificate (chain) file: with TLS_KEY_FILE, PORT serves HTTPS and WSS instead of HTTP and WS. Default none (plain HTTP). */
    TLS_CERT_FILE: z.string().min(1).optional(),
    /** PEM private key file of TLS_CERT_FILE, unencrypted. Required with TLS_CERT_FILE. */
    TLS_KEY_FILE: z.string().min(1).optional(),
    /** Dev mode only: serve HTTPS and WSS with a self-signed certificate for localhost and this machine's addresses, made (and reused while valid) under DEV_TLS_DIR. Default false. */
    DEV_TLS: bool.default(false),
    /** Where DEV_TLS keeps its certificate and key. Default ./.data/tls. */
    DEV_TLS_DIR: z.string().min(1).default('./.data/tls'),
    /** Bearer key for the HTTP API. Default: none, and the service refuses to start unless DEV=true, which generates one and prints it. */
    API_KEY: z.string().min(16).optional(),
    /** Secret that signs the JWT room tokens (HS256). Default: none; DEV=true generates one per process. */
    JWT_SECRET: z.string().min(32).optional(),
    /** Lifetime of issued room tokens, seconds. Default 3600. */
    TOKEN_TTL_SECONDS: int(10, 7 * 24 * 3600).default(3600),
    /** Lifetime of issued playback tokens (private broadcasts), seconds; the watch page renews its token before it expires. Default 600. */
    PLAYBACK_TOKEN_TTL_SECONDS: int(10, 24 * 3600).default(600),
    /** How long a viewer's promotion to guest outlives its last connection, ms, so that a reconnect keeps it on the stage. Default 60000. */
    STAGE_ROLE_GRACE_MS: int(0, 24 * 3600_000).default(60000),
    /**
     * Concurrent sessions one identity may hold in one room: signaling connections, WHIP and WHEP
     * sessions together. One more is refused with 429 `too_many_sessions`. Default 5.
     */
    STAGE_MAX_SESSIONS_PER_IDENTITY: int(1, 1000).default(5),
    /** Longest chat message, characters; longer is refused with `chat_too_long`. Default 500. */
    CHAT_MAX_LENGTH: int(1, 10000).default(500),
    /** Chat messages a room keeps (the newest), sent to a late joiner in `joined.chat` and by `GET /api/rooms/:id/chat`. Default 50. */
    CHAT_HISTORY: int(0, 1000).default(50),
    /** Chat messages one identity may send per minute in a room (token bucket); past it `rate_limited`. Default 30. */
    CHAT_RATE_PER_MINUTE: int(1, 6000).default(30),
    /** Chat messages one identity may send at once before CHAT_RATE_PER_MINUTE applies. Default 5. */
    CHAT_RATE_BURST: int(1, 1000).default(5),
    /** Dev mode: generate missing secrets, create a demo room and print ready-to-open URLs. Default false. */
    DEV: bool.default(false),
    /** Media engine: auto, embedded or mediasoup. Default auto (mediasoup when its worker binary exists, else embedded). */
    ENGINE: z.enum(['auto', 'embedded', 'mediasoup']).default('auto'),
    /** Path to a mediasoup worker binary. Default: the one `npm ci` put under node_modules/mediasoup/worker/out/Release, if any. */
    MEDIASOUP_WORKER_BIN: z.string().optional(),
    /** mediasoup worker processes; 0 = one per core (os.availableParallelism()). Default 0. */
    MEDIASOUP_WORKERS: int(0, 1024).default(0),
    /**
     * Consumers a room may place on one mediasoup worker before new subscribers go to a router
     * on another worker, fed through pipeToRouter. Default 500.
     */
    MEDIASOUP_CONSUMERS_PER_WORKER: int(1, 100000).default(500),
    /** mediasoup worker log level: debug, warn, error or none. Default warn. */
    MEDIASOUP_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
    /** Address media sockets bind to and advertise in ICE candidates. Default 127.0.0.1. */
    MEDIA_IP: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
    /** Address announced in ICE candidates when behind NAT. Default: MEDIA_IP. */
    MEDIA_ANNOUNCED_IP: z.union([z.ipv4(), z.ipv6()]).optional(),
    /** UDP port range for media, "min-max". Default 40000-49999. */
    MEDIA_PORT_RANGE: z
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, 'expected "min-max"')
      .transform((s) => s.split('-').map(Number) as [number, number])
      .refine(([a, b]) => a > 0 && b <= 65535 && a < b, 'expected 0 < min < max <= 65535')
      .default([40000, 49999]),
    /**
     * A publisher or subscriber leg (WHIP, WHEP or signaling) whose ICE has not connected this long
     * after it was created is closed with reason `ice_timeout`, and a WHIP or WHEP session leaves
     * its room, ms. Default 15000.
     */
    ICE_CONNECT_TIMEOUT_MS: int(500, 600000).default(15000),
    /** Run the embedded engine on a worker thread, off the HTTP/WebSocket event loop. Default true. */
    ENGINE_WORKER_THREAD: bool.default(true),
    /** Largest accepted WebSocket message, bytes. Default 65536. */
    WS_MAX_MESSAGE_BYTES: int(1024, 16 * 1024 * 1024).default(65536),
    /** WebSocket messages a socket may send per second (token bucket, burst twice that). Default 50. */
    WS_RATE_LIMIT_PER_SECOND: int(1, 10000).default(50),
    /** Interval between WebSocket heartbeats (ping), ms; a socket silent for two intervals is closed. Default 15000. */
    WS_HEARTBEAT_MS: int(100, 600000).default(15000),
    /** Largest accepted HTTP request body (SDP, JSON), bytes. Default 131072. */
    HTTP_MAX_BODY_BYTES: int(1024, 16 * 1024 * 1024).default(131072),
    /**
     * Most m-sections a client's offer (WHIP, WHEP, signaling publish) may have; more is 400
     * invalid_sdp. A stage presenter sends 2 (audio, video). Default 16.
     */
    SDP_MAX_MEDIA_SECTIONS: int(1, 1024).default(DEFAULT_SDP_MAX_MEDIA_SECTIONS),
    /** Time a client has to send a request's headers, ms; then 408 and the connection closes (Node's headersTimeout). Default 10000. */
    HTTP_HEADERS_TIMEOUT_MS: int(100, 600000).default(10000),
    /** Time a client has to send a whole request, headers and body, ms; then 408 and the connection closes (Node's requestTimeout). At least HTTP_HEADERS_TIMEOUT_MS. Default 30000. */
    HTTP_REQUEST_TIMEOUT_MS: int(100, 3600000).default(30000),
    /** Largest accepted request header section, bytes; larger is 431 (Node's maxHeaderSize). Default 16384. */
    HTTP_MAX_HEADER_BYTES: int(1024, 1024 * 1024).default(16384),
    /** WHIP and WHEP offers (POST) one client IP may send per minute, together (token bucket). Past it: 429 `rate_limited` with Retry-After. Default 60. */
    HTTP_INGEST_RATE_PER_MINUTE: int(1, 1_000_000).default(60),
    /** Burst of WHIP and WHEP offers one client IP may send at once. Default 30. */
    HTTP_INGEST_RATE_BURST: int(1, 1_000_000).default(30),
    /** Room tokens (`POST /api/rooms/:id/tokens`) one client IP may ask for per minute (token bucket). Past it: 429 `rate_limited` with Retry-After. Default 600. */
    HTTP_TOKEN_RATE_PER_MINUTE: int(1, 1_000_000).default(600),
    /** Burst of room tokens one client IP may ask for at once. Default 100. */
    HTTP_TOKEN_RATE_BURST: int(1, 1_000_000).default(100),
    /** Where HLS objects go: disk (embedded default) or s3. Default disk. */
    STORAGE: z.enum(['disk', 's3']).default('disk'),
    /** Root directory of disk storage. Default ./.data/hls. */
    STORAGE_DIR: z.string().min(1).default('./.data/hls'),
    /** S3-compatible endpoint URL, e.g. http://127.0.0.1:9000. Default: AWS's, from S3_REGION. */
    S3_ENDPOINT: z.url().optional(),
    /** S3 region. Default us-east-1. */
    S3_REGION: z.string().min(1).default('us-east-1'),
    /** S3 bucket. Required when STORAGE=s3. */
    S3_BUCKET: z.string().min(3).max(63).optional(),
    /** Prefix of every object key, e.g. live/. Default none. */
    S3_PREFIX: z.string().default(''),
    /** Path-style S3 URLs (bucket in the path), which most non-AWS stores need. Default true. */
    S3_FORCE_PATH_STYLE: bool.default(true),
    /** S3 access key id. Default: the AWS SDK's credential chain. */
    S3_ACCESS_KEY_ID: z.string().min(1).optional(),
    /** S3 secret access key. Default: the AWS SDK's credential chain. */
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    /** Keep each broadcast (start to stop) as a VOD HLS recording in storage, for rooms whose own setting (`PATCH /api/rooms/:id/settings`) says nothing. Replaces HLS_RECORD. Default false. */
    RECORD: bool.default(false),
    /** Rooms are private (their HLS needs a playback token) unless created or updated with `private: false`. Default false. */
    HLS_PRIVATE_DEFAULT: bool.default(false),
    /** Start a room's HLS broadcast when its stage gets its first track. Default true. */
    BROADCAST_AUTO_START: bool.default(true),
    /** UDP ports for the engine → ffmpeg RTP mirror on loopback, "min-max". Default 50000-50999. */
    MIRROR_PORT_RANGE: z
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, 'expected "min-max"')
      .transform((s) => s.split('-').map(Number) as [number, number])
      .refine(([a, b]) => a > 0 && b <= 65535 && a + 4 < b, 'expected 0 < min < max <= 65535')
      .default([50000, 50999]),
    /** libx264 preset of the broadcast encoder. Default superfast: on a small machine it leaves CPU for the SFU (veryfast costs about 1.8x, ultrafast about 0.7x). */
    BROADCAST_X264_PRESET: z.enum(X264_PRESETS).default(DEFAULT_X264_PRESET),
    /** ffmpeg binary for the broadcast pipeline. Default ffmpeg (found on the PATH). */
    FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
    /** Webhook endpoints, comma-separated URLs. Default none (API-created endpoints still work). */
    WEBHOOK_URLS: z
      .string()
      .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
      .pipe(z.array(z.url({ protocol: /^https?$/ })))
      .default([]),
    /** HMAC-SHA256 secret that signs webhook deliveries. Required with WEBHOOK_URLS. */
    WEBHOOK_SECRET: z.string().min(16).optional(),
    /** SQLite file of the webhook outbox. Default ./.data/webhooks.db. */
    WEBHOOK_DB_PATH: z.string().min(1).default('./.data/webhooks.db'),
    /** First webhook retry delay, ms (doubles per failure, with jitter). Default 2000. */
    WEBHOOK_RETRY_INITIAL_MS: int(10, 3600000).default(2000),
    /** Longest delay between webhook attempts, ms. Default 900000 (15 min). */
    WEBHOOK_RETRY_MAX_MS: int(10, 86400000).default(900000),
    /** A webhook delivery failing this long after its event is given up, hours. Default 24. */
    WEBHOOK_RETRY_HOURS: int(1, 24 * 14).default(24),
    /** Per-attempt webhook HTTP timeout, ms. Default 10000. */
    WEBHOOK_TIMEOUT_MS: int(100, 120000).default(10000),
    /** On shutdown, time spent delivering due webhooks before exiting (the rest wait for the next start), ms. Default 3000. */
    WEBHOOK_FLUSH_MS: int(0, 60000).default(3000),
    /** TURN (and STUN) URLs handed to clients, comma-separated, e.g. turn:turn.example.com:3478?transport=udp. Default none. */
    TURN_URLS: z.string().optional(),
    /** coturn's static-auth-secret (TURN REST credentials). Required with turn: URLs. */
    TURN_SECRET: z.string().min(16).optional(),
    /** Lifetime of issued TURN credentials, seconds. Default 3600. */
    TURN_TTL_SECONDS: int(60, 7 * 24 * 3600).default(3600),
    /** Serve /metrics without the API key (scrapes from a private network). Default false. */
    METRICS_PUBLIC: bool.default(false),
    /** SIGTERM/SIGINT: time to end broadcasts, flush uploads and webhooks and close, before a forced exit 1, ms. Default 10000. */
    SHUTDOWN_TIMEOUT_MS: int(100, 600000).default(10000),
    /** Redis URL (redis://host:port) of a cluster of nodes: membership, room placement (services/cluster). Default none: one node alone. */
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
    /** This node's id in the cluster. Default: a random one per start. */
    NODE_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must match ^[A-Za-z0-9_-]{1,64}$').optional(),
    /** Secret of node-to-node requests in a cluster (at least 16 chars). Required with REDIS_URL. */
    CLUSTER_SECRET: z.string().min(16).optional(),
    /** Interval of a node's heartbeat (its load and URL) in Redis, ms. Default 1000. */
    CLUSTER_HEARTBEAT_MS: int(100, 60000).default(1000),
    /** A node whose heartbeat is older than this is gone: its rooms are placed again, ms. Default 5000. */
    CLUSTER_NODE_TTL_MS: int(300, 600000).default(5000),
    /** Log level: fatal, error, warn, info, debug, trace. Default info. */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type Config = z.infer<typeof configSchema> & {
  API_KEY: string;
  JWT_SECRET: string;
  PUBLIC_URL: string;
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const KNOWN_KEYS = Object.keys(configSchema.shape);

/**
 * The schema's defaults, for modules used without a Config (tests, benches, embedding): a
 * module's fallback for a configurable value reads it here, so each default is stated once,
 * in the schema above.
 */
export const CONFIG_DEFAULTS = configSchema.parse({});

/**
 * Validates configuration. With `env` = process.env, only the known keys are read (the
 * environment holds many unrelated variables). With an explicit object, unknown keys fail.
 * TLS_CERT_FILE/TLS_KEY_FILE are read here too, so that a bad file fails the start by name.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, opts: { strict?: boolean } = {}): Config {
  const strict = opts.strict ?? env !== process.env;
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    // One key per setting: the old name would otherwise be ignored without a word.
    if (key === 'HLS_RECORD') throw new ConfigError('HLS_RECORD was replaced by RECORD (each broadcast kept as a VOD recording)');
    if (KNOWN_KEYS.includes(key)) input[key] = value;
    else if (strict) throw new ConfigError(`unknown configuration variable ${key}`);
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '?');
    throw new ConfigError(`invalid ${key}: ${issue.message}`);
  }
  const cfg = parsed.data;
  if (!cfg.API_KEY || !cfg.JWT_SECRET) {
    if (!cfg.DEV) {
      throw new ConfigError(`missing ${!cfg.API_KEY ? 'API_KEY' : 'JWT_SECRET'} (set it, or DEV=true to generate one)`);
    }
  }
  if (cfg.WEBHOOK_URLS.length > 0 && !cfg.WEBHOOK_SECRET) throw new ConfigError('missing WEBHOOK_SECRET (required with WEBHOOK_URLS)');
  if (/(^|,)\s*turns?:/.test(cfg.TURN_URLS ?? '') && !cfg.TURN_SECRET) throw new ConfigError('missing TURN_SECRET (required with turn: URLs)');
  if (cfg.WEBHOOK_FLUSH_MS >= cfg.SHUTDOWN_TIMEOUT_MS) throw new ConfigError('invalid WEBHOOK_FLUSH_MS: must be below SHUTDOWN_TIMEOUT_MS');
  if (cfg.HTTP_HEADERS_TIMEOUT_MS > cfg.HTTP_REQUEST_TIMEOUT_MS) throw new ConfigError('invalid HTTP_HEADERS_TIMEOUT_MS: must not be above HTTP_REQUEST_TIMEOUT_MS');
  if (cfg.REDIS_URL && !cfg.CLUSTER_SECRET) throw new ConfigError('missing CLUSTER_SECRET (required with REDIS_URL)');
  if (cfg.CLUSTER_NODE_TTL_MS < 2 * cfg.CLUSTER_HEARTBEAT_MS) throw new ConfigError('invalid CLUSTER_NODE_TTL_MS: must be at least twice CLUSTER_HEARTBEAT_MS');
  if (cfg.STORAGE === 's3' && !cfg.S3_BUCKET) throw new ConfigError('missing S3_BUCKET (required when STORAGE=s3)');
  if (Boolean(cfg.S3_ACCESS_KEY_ID) !== Boolean(cfg.S3_SECRET_ACCESS_KEY)) {
    throw new ConfigError(`missing ${cfg.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID'} (set both or neither)`);
  }
  checkTls(cfg);
  const scheme = cfg.TLS_CERT_FILE || cfg.DEV_TLS ? 'https' : 'http';
  const host = cfg.HOST === '0.0.0.0' || cfg.HOST === '::' ? '127.0.0.1' : cfg.HOST;
  return {
    ...cfg,
    API_KEY: cfg.API_KEY ?? `dev_${randomBytes(18).toString('base64url')}`,
    JWT_SECRET: cfg.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    PUBLIC_URL: (cfg.PUBLIC_URL ?? `${scheme}://${host.includes(':') ? `[${host}]` : host}:${cfg.PORT}`).replace(/\/$/, ''),
  };
}

/**
 * TLS settings come as a pair, and the files must hold what the HTTPS server will need: a
 * certificate, an unencrypted private key, and the two must belong together. Checked here so a
 * wrong path fails the start naming the key, not the first TLS handshake.
 */
function checkTls(cfg: z.infer<typeof configSchema>): void {
  if (Boolean(cfg.TLS_CERT_FILE) !== Boolean(cfg.TLS_KEY_FILE)) {
    throw new ConfigError(`missing ${cfg.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'} (set both TLS_CERT_FILE and TLS_KEY_FILE, or neither)`);
  }
  if (cfg.DEV_TLS && !cfg.DEV) throw new ConfigError('invalid DEV_TLS: requires DEV=true (outside dev mode, set TLS_CERT_FILE and TLS_KEY_FILE)');
  if (cfg.DEV_TLS && cfg.TLS_CERT_FILE) throw new ConfigError('invalid DEV_TLS: cannot be combined with TLS_CERT_FILE/TLS_KEY_FILE (DEV_TLS makes its own certificate)');
  if (!cfg.TLS_CERT_FILE || !cfg.TLS_KEY_FILE) return;
  const cert = parsePem('TLS_CERT_FILE', cfg.TLS_CERT_FILE, 'a PEM certificate', (pem) => new X509Certificate(pem));
  const key = parsePem('TLS_KEY_FILE', cfg.TLS_KEY_FILE, 'an unencrypted PEM private key', (pem): KeyObject => createPrivateKey(pem));
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`invalid TLS_KEY_FILE: ${cfg.TLS_KEY_FILE} is not the key of the certificate in TLS_CERT_FILE`);
}

function parsePem<T>(key: string, path: string, what: string, parse: (pem: Buffer) => T): T {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`invalid ${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parse(pem);
  } catch {
    throw new ConfigError(`invalid ${key}: ${path} does not hold ${what}`);
  }
}
