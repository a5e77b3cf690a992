/** Every scenario the runner knows, in report order. Add a ScenarioSpec here to bench another shape of load. */
import { fanoutScenario, simulcastFanoutScenario } from './fanout.js';
import { meetingScenario } from './meeting.js';
import type { ScenarioSpec } from './types.js';

export const SCENARIOS: readonly ScenarioSpec[] = [fanoutScenario, meetingScenario, simulcastFanoutScenario];
