import { describeKills } from './testing/kill-scenario.ts';

// One round at a time, killed 20 times (fault-overlap.test.ts: two in flight).
describeKills({ maxInFlight: 1, clients: 3, kills: 20 });
