// Per-user change events in this process (RFC 5465 NOTIFY needs them): a mailbox's messages or flags changed,
// a mailbox was created, deleted or renamed, or (un)subscribed. Keyed by the user's index directory, shared by all sessions.
import { EventEmitter } from 'node:events';

export type UserChangeEvent =
  | { kind: 'messages'; mailbox: string }
  | { kind: 'created' | 'deleted' | 'subscribed' | 'unsubscribed'; mailbox: string; origin?: unknown }
  | { kind: 'renamed'; from: string; to: string; origin?: unknown };

const emitters = new Map<string, { emitter: EventEmitter; listeners: number }>();

/** Emits an event to every listener of the user (no-op when nobody listens). */
export function emitUserChange(userKey: string, event: UserChangeEvent): void {
  emitters.get(userKey)?.emitter.emit('change', event);
}

/** Listens to a user's changes; returns the function that stops listening. */
export function onUserChange(userKey: string, listener: (event: UserChangeEvent) => void): () => void {
  let entry = emitters.get(userKey);
  if (!entry) {
    entry = { emitter: new EventEmitter().setMaxListeners(0), listeners: 0 };
    emitters.set(userKey, entry);
  }
  const e = entry;
  e.emitter.on('change', listener);
  e.listeners++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    e.emitter.off('change', listener);
    if (--e.listeners === 0 && emitters.get(userKey) === e) emitters.delete(userKey);
  };
}
