/** Every server the runner knows, in table order. Add a ServerSpec here to bench another SFU. */
import { janusServer } from './janus.js';
import { sfudServer } from './sfud.js';
import type { ServerSpec } from './types.js';
import { weriftServer } from './werift.js';

export const SERVERS: readonly ServerSpec[] = [sfudServer, janusServer, weriftServer];
