import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessageOf } from '../signaling/signaling-types.ts';
import { h } from '../ui/dom.ts';
import type { AudienceInfo } from './chat-types.ts';

const ROLES = ['presenter', 'guest', 'moderator', 'viewer'] as const;

/**
 * The room's audience count (`joined.audience`, then `audience` updates) as one line, e.g.
 * `5 here · 1 presenter · 3 viewers · 1 moderator`. Test hooks: `data-testid="audience"` with
 * `data-total` and `data-<role>` attributes.
 */
export class AudienceView {
  readonly root: HTMLElement;
  private client: SignalingClient | undefined;
  private readonly onAudience = (message: ServerMessageOf<'audience'>) => this.show(message.audience);

  constructor(parent: Element) {
    this.root = h('p', { class: 'audience', 'data-testid': 'audience', 'aria-live': 'polite' });
    parent.append(this.root);
  }

  attach(client: SignalingClient): void {
    this.detach();
    this.client = client;
    client.on('audience', this.onAudience);
    if (client.joined?.audience) this.show(client.joined.audience);
  }

  detach(): void {
    this.client?.off('audience', this.onAudience);
    this.client = undefined;
  }

  private show(audience: AudienceInfo): void {
    this.root.dataset.total = String(audience.total);
    for (const role of ROLES) this.root.dataset[role] = String(audience[role]);
    const parts = ROLES.filter((role) => audience[role] > 0).map((role) => `${audience[role]} ${role}${audience[role] === 1 ? '' : 's'}`);
    this.root.textContent = [`${audience.total} here`, ...parts].join(' · ');
  }
}
