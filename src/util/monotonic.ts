// The clock intervals are measured on. The wall clock (Date.now()) steps when
// NTP corrects it or a VM resumes: measured on it, a step back refuses every
// rate-limited source and stalls paced replies for the step's length, and a
// step forward expires everything at once. Date.now() stays for timestamps
// that others read (createdTime on the wire, heartbeats compared across nodes).

/** Milliseconds from an arbitrary origin: only differences mean anything. */
export type Clock = () => number;

/** The process's monotonic clock: it never steps, whatever the wall clock does. */
export const monotonicMs: Clock = () => performance.now();

/**
 * `clock` as long-lived interval state reads it: time only moves forward.
 * A reading earlier than the one before counts as no time passing, so a
 * clock that steps back (an injected one, or a wall clock) costs nothing.
 */
export function forwardOnly(clock: Clock): Clock {
  let lastMs = clock();
  let elapsedMs = lastMs;
  return () => {
    const nowMs = clock();
    if (nowMs > lastMs) elapsedMs += nowMs - lastMs;
    lastMs = nowMs;
    return elapsedMs;
  };
}
