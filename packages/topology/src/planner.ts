/** config -> plan: one planner per mode, chosen from a table. */
import { aioPlan } from './aio.ts';
import { compactPlan } from './compact.ts';
import type { CosmoConfig, Mode } from './config.ts';
import { distributedPlan } from './distributed.ts';
import type { Plan } from './plan.ts';

const PLANNERS: Record<Mode, (config: CosmoConfig, version: string) => Plan> = {
  aio: aioPlan,
  compact: compactPlan,
  distributed: distributedPlan,
};

export function planFor(config: CosmoConfig, version: string): Plan {
  return PLANNERS[config.mode](config, version);
}
