/**
 * Every route of the management API, in matching order (literal paths before the parameterised
 * ones they would otherwise shadow: /api/queues/detailed before /api/queues/{vhost}, ...).
 */
import { Router } from '../router.js';
import { bindingRoutes } from './bindings.js';
import { connectionRoutes } from './connections.js';
import { definitionRoutes } from './definitions.js';
import { exchangeRoutes } from './exchanges.js';
import { federationRoutes } from './federation.js';
import { halfMessageRoutes } from './half-messages.js';
import { healthRoutes } from './health.js';
import { logLevelRoutes } from './log-level.js';
import { overviewRoutes } from './overview.js';
import { parameterRoutes } from './policies.js';
import { publishRoutes } from './publish.js';
import { queueRoutes } from './queues.js';
import { queueToolRoutes } from './queue-tools.js';
import { shovelRoutes } from './shovels.js';
import { userRoutes } from './users.js';
import { vhostRoutes } from './vhosts.js';
import { warrenRoutes } from './warren.js';

export function managementRouter(): Router {
  const r = new Router();
  overviewRoutes(r);
  queueRoutes(r);
  queueToolRoutes(r);
  halfMessageRoutes(r);
  exchangeRoutes(r);
  publishRoutes(r);
  bindingRoutes(r);
  connectionRoutes(r);
  vhostRoutes(r);
  userRoutes(r);
  parameterRoutes(r);
  shovelRoutes(r);
  definitionRoutes(r);
  federationRoutes(r);
  healthRoutes(r);
  logLevelRoutes(r);
  warrenRoutes(r);
  return r;
}
