/**
 * ion-sfu compatible signalling: JSON-RPC over WebSocket (`/ws`) and the
 * HTTP JSON-RPC 2.0 admin endpoint (`POST /rpc`).
 */
export * from './types.js';
export * from './frames.js';
export * from './ws-server.js';
export * from './http.js';
