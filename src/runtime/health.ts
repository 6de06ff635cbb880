import type { HealthService } from '../http/services.js';
import type { Store } from '../store/port.js';

/** Readiness from the store: ready while it answers a trivial query. */
export function storeHealth(store: Store): HealthService {
  return {
    async ready() {
      try {
        await store.get('SELECT 1 AS ok');
        return true;
      } catch {
        return false;
      }
    },
  };
}
