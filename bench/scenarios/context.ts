import type { BenchEnv } from '../lib/env.js';
import type { Profile, ScenarioResult, Size } from '../lib/results.js';

export interface ScenarioContext {
  env: BenchEnv;
  size: Size;
  profile: Profile;
  /** --rate: the command rate freshness takes its 25/50/75 % of, instead of a measured peak. */
  rate: number | null;
  /** Set by `commands`: the best createOrder rate of the CQRS service in this run. */
  peakCommandRate: number | null;
}

export type Scenario = (context: ScenarioContext) => Promise<ScenarioResult>;
