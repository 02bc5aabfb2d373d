/** config -> plan: one planner per mode, chosen from a table. */
import { aioPlan } from './aio.ts';
import type { CosmoConfig, Mode } from './config.ts';
import { distributedPlan } from './distributed.ts';
import type { Plan } from './plan.ts';

const PLANNERS: Partial<Record<Mode, (config: CosmoConfig, version: string) => Plan>> = {
  aio: aioPlan,
  distributed: distributedPlan,
};

export function planFor(config: CosmoConfig, version: string): Plan {
  const planner = PLANNERS[config.mode];
  if (!planner) throw new Error(`mode ${config.mode} has no plan yet`);
  return planner(config, version);
}
