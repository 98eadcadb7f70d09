import type { Deps } from '../deps.js';
import type { Catalogue } from '../tokens/catalogue.js';

/** What the agent routes are built from: the app's dependencies and the resource catalogue. */
export interface AgentDeps extends Deps {
  readonly catalogue: Catalogue;
}
