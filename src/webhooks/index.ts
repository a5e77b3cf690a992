/** Webhooks: lifecycle events POSTed, signed, to a backend (README "Webhooks"). */
export * from './notifier.js';
export { forwardRoomEvents } from './room-events.js';
