import type { ChangeListener } from './port.js';

/** Channel → listeners, shared by both adapters. A throwing listener does not stop the others. */
export class ListenerRegistry {
  readonly #byChannel = new Map<string, Set<ChangeListener>>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  add(channel: string, listener: ChangeListener): () => void {
    let set = this.#byChannel.get(channel);
    if (!set) this.#byChannel.set(channel, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#byChannel.delete(channel);
    };
  }

  channels(): string[] {
    return [...this.#byChannel.keys()];
  }

  emit(channel: string, payload: string | null): void {
    for (const listener of this.#byChannel.get(channel) ?? []) {
      try {
        listener(payload);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** Tells every listener that messages may have been lost. */
  resetAll(): void {
    for (const channel of this.channels()) this.emit(channel, null);
  }
}
