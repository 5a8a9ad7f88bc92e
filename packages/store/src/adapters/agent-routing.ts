/**
 * The weights an agent has after `addVersion` created `version`: the ones given replace the current
 * weights; without any, the first version of an agent that has no weights takes all the traffic (an
 * agent with versions always has weights that sum to 100), and later versions get none until routed.
 */
export function routingAfterVersion(
  current: Record<string, number>, version: number, given: Record<string, number> | undefined,
): Record<string, number> {
  if (given !== undefined) return { ...given };
  return Object.keys(current).length === 0 ? { [String(version)]: 100 } : current;
}
