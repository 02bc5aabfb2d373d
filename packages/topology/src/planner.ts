/** config -> plan: one planner per mode, chosen from a table. */
import { aioPlan } from './aio.ts';
import { compactPlan } from './compact.ts';
import type { CosmoConfig, Mode } from './config.ts';
import { distributedPlan } from './distributed.ts';
import { IMAGE_PRIVILEGES, type Plan } from './plan.ts';

const PLANNERS: Record<Mode, (config: CosmoConfig, version: string) => Plan> = {
  aio: aioPlan,
  compact: compactPlan,
  distributed: distributedPlan,
};

export function planFor(config: CosmoConfig, version: string): Plan {
  const plan = PLANNERS[config.mode](config, version);
  // Least privilege is the image's, whatever the mode: one table, applied to every service here.
  return {
    ...plan,
    services: plan.services.map((service) => ({
      ...service,
      privileges: IMAGE_PRIVILEGES[service.imageName],
    })),
  };
}
