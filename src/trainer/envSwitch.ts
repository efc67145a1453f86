/**
 * An on/off switch read from the environment (IMMISCIBLE_WEBGPU_REPLAY and the like): 1, true, 0
 * or false; unset or empty gives the default. Anything else is an error naming the variable, so a
 * misspelt value never leaves a switch silently on.
 */
export function envSwitch(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new Error(`${name}: expected true, false, 1 or 0, got '${raw}'`);
}
