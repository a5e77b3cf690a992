/** Every server the runner knows, in table order (optional ones only when named). Add a ServerSpec here to bench another SFU. */
import { janusLoopsServer, janusServer } from './janus.js';
import { mediasoupServer } from './mediasoup.js';
import { sfudServer } from './sfud.js';
import type { ServerSpec } from './types.js';
import { weriftServer } from './werift.js';

export const SERVERS: readonly ServerSpec[] = [sfudServer, janusServer, janusLoopsServer, weriftServer, mediasoupServer];
