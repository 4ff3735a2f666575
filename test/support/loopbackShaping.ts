import { execFileSync } from 'node:child_process';

/**
 * Faults on loopback for one flow of packets: dropped, squeezed through a slow link (`tc`,
 * iproute2), or lost at random (`nft`, nftables: netem is often not in the kernel, nf_tables'
 * random numbers usually are). Changing loopback is only safe inside the runner's own network
 * namespace (scripts/test.mjs), where nothing else uses it.
 *
 * tc layout: an HTB root whose default class is unlimited; the shaped packets (a u32 filter) go
 * to one class with its own rate and queue.
 */

/** Why loopback cannot be shaped here, or false. `randomLoss`: `loseAtRandom` is needed too. */
export function loopbackShapingUnavailable({ randomLoss = false } = {}): string | false {
  try {
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).trim().split('\n');
    if (links.length !== 1 || !/: lo:/.test(links[0]!)) return 'needs the private loopback-only network namespace of scripts/test.mjs';
    execFileSync('tc', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs ip and tc (iproute2)';
  }
  if (!randomLoss) return false;
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'needs nft (nftables) for random loss';
  }
}

const NFT_TABLE = 'stagecast_test_loss';

/** Drops `percent` % of the UDP packets from `sport` to `dport` on loopback, at random; undo with `restoreLoopback`. */
export function loseAtRandom({ sport, dport, percent }: { sport: number; dport: number; percent: number }): void {
  const nft = (...args: string[]) => execFileSync('nft', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  nft('add', 'table', 'inet', NFT_TABLE);
  // On input: a drop on output fails the sender's send() (EPERM), and mediasoup sends again.
  nft('add', 'chain', 'inet', NFT_TABLE, 'in', '{ type filter hook input priority 0; }');
  nft('add', 'rule', 'inet', NFT_TABLE, 'in', 'udp', 'sport', String(sport), 'udp', 'dport', String(dport), 'numgen', 'random', 'mod', '10000', '<', String(Math.round(percent * 100)), 'counter', 'drop');
}

/**
 * Drops every TCP packet to or from `port` on loopback (a server's listening port: all its
 * connections go silent, and new ones cannot open); undo with `restoreLoopback`.
 */
export function cutTcpPort(port: number): void {
  const nft = (...args: string[]) => execFileSync('nft', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  nft('add', 'table', 'inet', NFT_TABLE);
  nft('add', 'chain', 'inet', NFT_TABLE, 'in', '{ type filter hook input priority 0; }');
  nft('add', 'rule', 'inet', NFT_TABLE, 'in', 'tcp', 'dport', String(port), 'drop');
  nft('add', 'rule', 'inet', NFT_TABLE, 'in', 'tcp', 'sport', String(port), 'drop');
}

const tc = (...args: string[]) => execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export interface FlowShape {
  /** u32 match arguments that pick the packets, after the UDP protocol match (e.g. ['match', 'ip', 'dport', '5000', '0xffff']). */
  match: string[];
  /** Rate of the class the packets go through (e.g. '400kbit'); default: unlimited. */
  rate?: string;
  /** The class's queue: 'drop' (length 0: every packet is dropped), or a FIFO of that many packets. Default 30. */
  queue?: 'drop' | number;
}

/** Shapes the packets `shape.match` picks; undo with `restoreLoopback`. One shape at a time. */
export function shapeLoopback(shape: FlowShape): void {
  const rate = shape.rate ?? '100gbit';
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '100gbit');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', rate, 'ceil', rate);
  const queue = shape.queue ?? 30;
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'pfifo', 'limit', queue === 'drop' ? '0' : String(queue));
  tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'protocol', '17', '0xff', ...shape.match, 'flowid', '1:20');
}

/** Packets `loseAtRandom` has dropped so far (0 when it is not in place). */
export function packetsLostAtRandom(): number {
  try {
    const table = execFileSync('nft', ['list', 'table', 'inet', NFT_TABLE], { encoding: 'utf8' });
    return Number(/counter packets (\d+)/.exec(table)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Undoes `shapeLoopback` and `loseAtRandom`; safe to call when nothing is shaped. */
export function restoreLoopback(): void {
  if (execFileSync('tc', ['qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' }).includes('htb 1:')) tc('qdisc', 'del', 'dev', 'lo', 'root');
  try {
    execFileSync('nft', ['delete', 'table', 'inet', NFT_TABLE], { stdio: 'ignore' });
  } catch {
    // No such table (or no nft): nothing to undo.
  }
}
