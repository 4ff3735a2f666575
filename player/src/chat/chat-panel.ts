import { PlayerErrorException, describe } from '../core/errors.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessage } from '../signaling/signaling-types.ts';
import { h } from '../ui/dom.ts';
import { AudienceView } from './audience-view.ts';
import { CHAT_EVENTS, ChatState } from './chat-state.ts';
import type { ChatMessageInfo } from './chat-types.ts';
import './chat.css';

/**
 * The chat panel every page shows: the audience count, the messages, and a box to send one.
 * Mounted once (`new ChatPanel(parent)`); `attach(client)` binds it to a joined
 * SignalingClient (its `joined.chat` history, then the chat events), `detach()` unbinds it
 * (the input is disabled until the next attach). Chat text and names are only ever set as
 * text nodes, never parsed as HTML.
 *
 * Moderators get, on each message, Delete and Mute/Unmute (its author's identity); an author
 * gets Delete on its own messages. Every action goes over signaling and the server checks it.
 *
 * Test hooks: `data-testid` `chat` (the section), `chat-messages` > `chat-message` (with
 * `data-message-id`, `data-identity`, `data-role`) > `chat-author`, `chat-text`, `chat-delete`,
 * `chat-mute`, `chat-unmute`; `chat-input`, `chat-send`, `chat-error` (with `data-code`),
 * `chat-muted` (shown while this identity is muted); and AudienceView's `audience`.
 */
export class ChatPanel {
  readonly root: HTMLElement;
  readonly audience: AudienceView;
  private readonly list: HTMLOListElement;
  private readonly input: HTMLInputElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly errorEl: HTMLElement;
  private readonly mutedEl: HTMLElement;
  private readonly idlePlaceholder: string;
  private client: SignalingClient | undefined;
  private state: ChatState | undefined;
  private readonly onEvent = (message: ServerMessage) => this.state?.apply(message);
  private readonly onChange = () => this.render();

  /** `placeholder`: the input's hint while not attached (e.g. the studio's before it goes live). */
  constructor(parent: Element, { placeholder = 'Chat is not connected' }: { placeholder?: string } = {}) {
    this.idlePlaceholder = placeholder;
    this.list = h('ol', { class: 'chat-messages', 'data-testid': 'chat-messages', 'aria-live': 'polite' });
    this.input = h('input', { type: 'text', 'data-testid': 'chat-input', 'aria-label': 'Chat message', autocomplete: 'off' });
    this.sendButton = h('button', { type: 'submit', 'data-testid': 'chat-send' }, ['Send']);
    this.errorEl = h('p', { class: 'chat-error', 'data-testid': 'chat-error', role: 'alert' });
    this.mutedEl = h('p', { class: 'chat-muted', 'data-testid': 'chat-muted' }, ['A moderator muted your chat.']);
    this.mutedEl.hidden = true;
    const form = h('form', { class: 'chat-form', 'data-testid': 'chat-form' }, [this.input, this.sendButton]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    this.root = h('section', { class: 'chat', 'data-testid': 'chat', 'aria-label': 'Chat' }, [h('h2', {}, ['Chat'])]);
    this.audience = new AudienceView(this.root);
    this.root.append(this.list, this.mutedEl, form, this.errorEl);
    parent.append(this.root);
    this.setEnabled(false);
  }

  /** Binds the panel to a joined client: its history, then its chat and audience events. */
  attach(client: SignalingClient): void {
    const joined = client.joined;
    if (!joined) throw new Error('ChatPanel.attach: the client has not joined');
    this.detach();
    this.client = client;
    this.state = new ChatState(joined);
    this.state.on('change', this.onChange);
    for (const type of CHAT_EVENTS) client.on(type, this.onEvent);
    this.audience.attach(client);
    this.setEnabled(true);
    this.render();
  }

  /** Unbinds from the client (it stays open); the messages stay on screen. */
  detach(): void {
    if (this.client) for (const type of CHAT_EVENTS) this.client.off(type, this.onEvent);
    this.state?.off('change', this.onChange);
    this.audience.detach();
    this.client = undefined;
    this.setEnabled(false);
  }

  private setEnabled(enabled: boolean): void {
    this.input.disabled = !enabled || (this.state?.muted ?? false);
    this.input.placeholder = enabled ? 'Say something' : this.idlePlaceholder;
    this.sendButton.disabled = this.input.disabled;
  }

  private send(): void {
    const text = this.input.value;
    if (!text.trim()) return;
    this.act((c) => c.request({ type: 'chat', text }), () => {
      this.input.value = '';
    });
  }

  /** Sends one chat request; a refusal is shown with its code, never thrown. */
  private act(request: (client: SignalingClient) => Promise<unknown>, onOk?: () => void): void {
    const client = this.client;
    if (!client) return;
    this.showError(undefined);
    request(client).then(
      () => onOk?.(),
      (err: unknown) => this.showError(err),
    );
  }

  private showError(err: unknown): void {
    if (err === undefined) {
      this.errorEl.textContent = '';
      delete this.errorEl.dataset.code;
      return;
    }
    const code = err instanceof PlayerErrorException ? err.data.code : undefined;
    if (code) this.errorEl.dataset.code = code;
    this.errorEl.textContent = err instanceof PlayerErrorException ? err.data.message : describe(err);
  }

  private render(): void {
    const state = this.state;
    if (!state) return;
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.replaceChildren(...state.messages.map((m) => this.item(m, state)));
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
    this.mutedEl.hidden = !state.muted;
    this.setEnabled(this.client !== undefined);
  }

  private item(m: ChatMessageInfo, state: ChatState): HTMLLIElement {
    const actions: HTMLElement[] = [];
    const system = m.from.role === 'system';
    if (state.moderator || (!system && m.from.identity === state.identity)) {
      actions.push(this.button('chat-delete', 'Delete', () => this.act((c) => c.request({ type: 'deleteChat', messageId: m.id }))));
    }
    if (state.moderator && !system && m.from.identity !== state.identity) {
      const muted = state.isMuted(m.from.identity);
      actions.push(
        muted
          ? this.button('chat-unmute', 'Unmute', () => this.act((c) => c.request({ type: 'unmuteChat', identity: m.from.identity })))
          : this.button('chat-mute', 'Mute', () => this.act((c) => c.request({ type: 'muteChat', identity: m.from.identity }))),
      );
    }
    // h() appends strings as text nodes: the text is never parsed as HTML.
    return h('li', { 'data-testid': 'chat-message', 'data-message-id': m.id, 'data-identity': m.from.identity, 'data-role': m.from.role }, [
      h('span', { class: 'chat-author', 'data-testid': 'chat-author', title: new Date(m.at).toLocaleTimeString() }, [m.from.identity]),
      h('span', { class: 'chat-text', 'data-testid': 'chat-text' }, [m.text]),
      ...actions,
    ]);
  }

  private button(testId: string, label: string, onClick: () => void): HTMLButtonElement {
    const b = h('button', { type: 'button', class: 'chat-action', 'data-testid': testId }, [label]);
    b.addEventListener('click', onClick);
    return b;
  }
}
