import { describeKills } from './testing/kill-scenario.ts';

// One round at a time, killed 10 times (fault-overlap.test.ts: two in flight). Each kill lands
// at a random point of a round (seeded), so together they cover every phase: a larger count
// runs by hand with POLLEN_KILLS.
describeKills({ maxInFlight: 1, clients: 3, kills: Number(process.env.POLLEN_KILLS ?? 10) });
