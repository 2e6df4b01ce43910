import { describeKills } from './testing/kill-scenario.ts';

// Two rounds in flight at once (two cohorts of three, committed in the order they close, the
// later one weighted by its staleness), killed 6 times to keep the suite's time in bounds
// (POLLEN_KILLS runs more by hand).
describeKills({ maxInFlight: 2, clients: 6, kills: Number(process.env.POLLEN_KILLS ?? 6) });
