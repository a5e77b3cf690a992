/**
 * Turns room lifecycle events into webhooks. Listens only: nothing here runs
 * on the media path, and `WebhookNotifier.send` returns at once.
 *
 * Order for one peer leaving (the last one): `track_unpublished` for each of
 * its tracks, `participant_left`, then `room_finished`.
 */
import type { Producer } from '../router/producer.js';
import type { RoomRegistry } from '../router/room.js';
import type { WebhookNotifier, WebhookTrack } from './notifier.js';

function trackOf(p: Producer): WebhookTrack {
  return { id: p.id, kind: p.kind, streamId: p.streamId, trackId: p.trackId, mid: p.mid };
}

/**
 * Sends a webhook for every room, participant and track event of `rooms` from
 * now on. In a shard, `hooks` forwards them to the main thread's notifier.
 */
export function forwardRoomEvents(rooms: RoomRegistry, hooks: Pick<WebhookNotifier, 'send'>): void {
  rooms.on('room', (room) => {
    const r = { sid: room.sid };
    // A producer does not know its publisher: remember it from the publish for the unpublish.
    const owners = new Map<Producer, string>();
    hooks.send('room_started', { room: r });
    room.on('memberjoined', (m) => hooks.send('participant_joined', { room: r, participant: { uid: m.uid } }));
    room.on('memberleft', (m) => hooks.send('participant_left', { room: r, participant: { uid: m.uid } }));
    room.on('produceradded', (m, p) => {
      owners.set(p, m.uid);
      hooks.send('track_published', { room: r, participant: { uid: m.uid }, track: trackOf(p) });
    });
    room.on('producerremoved', (p) => {
      const uid = owners.get(p);
      owners.delete(p);
      hooks.send('track_unpublished', { room: r, participant: uid === undefined ? undefined : { uid }, track: trackOf(p) });
    });
    room.once('close', () => hooks.send('room_finished', { room: r }));
  });
}
