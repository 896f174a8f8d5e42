import type { BenchEnv } from '../lib/env.js';
import type { Profile, ScenarioResult, Size } from '../lib/results.js';

export interface ScenarioContext {
  env: BenchEnv;
  size: Size;
  profile: Profile;
}

export type Scenario = (context: ScenarioContext) => Promise<ScenarioResult>;
