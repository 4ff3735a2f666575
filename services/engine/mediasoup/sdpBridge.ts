/**
 * The server-side bridge between SDP and mediasoup's RTP parameters. mediasoup speaks ORTC-style
 * parameters, browsers and WHIP/WHEP clients speak SDP, and the bridge translates in both
 * directions so the engine keeps the project's SDP-level interface. One file per side:
 *
 * - publish (client offers), sdpPublish.ts: `producerFromOffer` turns each offered send section
 *   into producer parameters (codec chosen against the router, rids for simulcast, SSRCs
 *   otherwise); `buildAnswer` writes the answer.
 * - subscribe (engine offers), sdpSubscribe.ts: consumers are created against the router's own
 *   capabilities; `buildOffer` writes one sendonly section per consumer; `parseAnswer` reads the
 *   client's DTLS role and which sections it accepted.
 * - WHEP (client offers recvonly), sdpWhep.ts: `receiverNumbering` says which payload types the
 *   receiver gives the router's codecs (the engine consumes on a router numbered that way),
 *   `capabilitiesFromOffer` gives its capabilities (NACK without rtx, mediasoup's extension
 *   ids); `buildAnswer` writes sendonly sections.
 * - shared: sdpCodecs.ts (what each side reads alike, remote DTLS), sdpWriter.ts (the lines
 *   answers and offers share, and `buildAnswer`).
 *
 * The mediasoup side is ICE-lite and always the DTLS server when it answers. This file is the
 * bridge's public face for code outside the engine (tests, benchmarks).
 */
export { declarableExtension, remoteDtls } from './sdpCodecs.ts';
export { orderRids, producerFromOffer, producersFromOffer, type OfferedProducer } from './sdpPublish.ts';
export { buildOffer, parseAnswer, type OfferSection } from './sdpSubscribe.ts';
export { capabilitiesFromOffer, offersPayloadType, receiverEstimate, receiverNumbering, renumberedCodecs } from './sdpWhep.ts';
export { buildAnswer, type LocalTransport, type SendSection } from './sdpWriter.ts';
