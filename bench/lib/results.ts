// The shape of one run, as written to bench/results/<date>.json and read back by report.ts and the
// smoke test. Every scenario reports rows of figures under named columns, so one renderer serves all.

export const scenarioNames = ['commands', 'reads', 'freshness', 'rebuild', 'fanout'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

/** A measured number, or 'pending' when what it measures does not exist yet (never a made-up figure). */
export type Figure = number | 'pending';

export interface Row {
  system: string;
  level: string;
  /** One per column; null where the column does not apply (a ratio row has no latency). */
  values: (Figure | null)[];
  /** Ratio rows compare systems; the chart leaves them out. */
  ratio?: boolean;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  levelName: string;
  columns: string[];
  /** The column the chart draws for this scenario. */
  chartColumn: number;
  rows: Row[];
  /** Errors, samples left out and anything else a reader must know to trust the rows. */
  notes: string[];
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  redis: string;
}

export interface RunResult {
  date: string;
  size: Size;
  /** Absent: single servers. cluster: JetStream R3 on 3 nodes and a Redis Cluster of 6 (`--topology cluster`). */
  topology?: 'cluster';
  commit: string;
  /** Uncommitted changes in the tree when it ran: the commit alone does not describe the code. */
  dirty: boolean;
  machine: Machine;
  scenarios: ScenarioResult[];
}

export type Size = 'smoke' | 'full';

/** How big each scenario runs. Smoke proves the harness works in about a minute; full measures. */
export const profiles = {
  smoke: { seconds: 1, warmupSeconds: 1, repeats: 1, clients: [8], seedOrdersPerUser: 1, rebuildEvents: 5_000, fanout: [50], fanoutOrders: 10, fanoutRounds: 2 },
  full: { seconds: 5, warmupSeconds: 2, repeats: 3, clients: [1, 8, 32, 64], seedOrdersPerUser: 4, rebuildEvents: 1_000_000, fanout: [1_000, 5_000], fanoutOrders: 100, fanoutRounds: 5 },
} as const satisfies Record<Size, Profile>;

export interface Profile {
  seconds: number;
  warmupSeconds: number;
  repeats: number;
  clients: readonly number[];
  seedOrdersPerUser: number;
  rebuildEvents: number;
  fanout: readonly number[];
  fanoutOrders: number;
  fanoutRounds: number;
}

/** A note for a load that saw errors, so a reader knows the figure is of the successful requests only. */
export function errorNote(system: string, level: string, outcome: { errors: number; samples: number; firstError: string | null }): string[] {
  return outcome.errors ? [`${system} at ${level}: ${outcome.errors} errors beside ${outcome.samples} successes (first: ${outcome.firstError})`] : [];
}
