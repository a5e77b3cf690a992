/** ICE building blocks. The STUN codec and CRC-32 are pure; see each module's header. */
export * from './stun.js';
export { crc32 } from './crc32.js';
