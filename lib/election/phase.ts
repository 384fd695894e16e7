/**
 * Where an elector is in its life (`Elector.phase`).
 *
 * @module
 */

/** Where an elector is; `leading` and `stopping` belong to one term. */
export type ElectorPhase = "idle" | "campaigning" | "leading" | "stopping" | "stopped";
