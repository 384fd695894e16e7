/**
 * The settable fields of a zod object schema, walked from the schema itself: the environment
 * layer (`lib/config/load.ts`) learns from them which variables exist and what their text
 * coerces to, and `scripts/config_docs.ts` generates docs/configuration.md from them.
 *
 * @module
 */
import { z } from "zod/mini";

/** What environment text of a field coerces to. */
export type LeafKind = "boolean" | "number" | "string" | "duration" | "list";

/** One settable field (a leaf: objects are walked into, not listed). */
export interface Field {
  /** Dotted path, e.g. `tasks.pollInterval`. */
  readonly path: string;
  readonly kind: LeafKind;
  /** The value's schema under its default/optional wrappers and pipes. */
  readonly inner: z.ZodMiniType;
  /** Every schema from the field's own down to `inner` (wrappers, pipes' both sides). */
  readonly layers: readonly z.ZodMiniType[];
  /** The `.describe()` text, if any. */
  readonly description: string | undefined;
  /** Whether the field has a default, and which. */
  readonly default: { readonly value: unknown } | undefined;
}

type Def = { type: string; innerType?: z.ZodMiniType; in?: z.ZodMiniType; out?: z.ZodMiniType };

/**
 * Every leaf of an object schema, depth first in the schema's key order.
 *
 * @param schema The object schema (wrappers allowed).
 * @param prefix The path of `schema` itself.
 */
export function fields(schema: z.ZodMiniType, prefix = ""): Field[] {
  const out: Field[] = [];
  const walk = (node: z.ZodMiniType, path: string) => {
    const { inner, layers } = unwrap(node);
    if (inner._zod.def.type === "object") {
      const shape = (inner as unknown as { shape: Record<string, z.ZodMiniType> }).shape;
      for (const [key, child] of Object.entries(shape)) walk(child, path ? `${path}.${key}` : key);
      return;
    }
    const withDefault = layers.find((l) => l._zod.def.type === "default");
    out.push({
      path,
      kind: kindOf(inner),
      inner,
      layers,
      description: layers.map((l) => z.globalRegistry.get(l)?.description).find((d) => d),
      default: withDefault
        ? { value: (withDefault._zod.def as unknown as { defaultValue: unknown }).defaultValue }
        : undefined,
    });
  };
  walk(schema, prefix);
  return out;
}

/** Strips default/prefault/optional/nullable wrappers and follows pipes to their input. */
function unwrap(schema: z.ZodMiniType): { inner: z.ZodMiniType; layers: z.ZodMiniType[] } {
  const layers: z.ZodMiniType[] = [];
  let s = schema;
  for (;;) {
    layers.push(s);
    const def = s._zod.def as Def;
    if (def.innerType && ["default", "prefault", "optional", "nullable"].includes(def.type)) {
      s = def.innerType;
    } else if (def.type === "pipe" && def.in) {
      if (def.out) layers.push(def.out);
      s = def.in;
    } else {
      return { inner: s, layers };
    }
  }
}

function kindOf(schema: z.ZodMiniType): LeafKind {
  switch (schema._zod.def.type) {
    case "boolean":
      return "boolean";
    case "number":
      return "number";
    case "union":
      return "duration";
    case "array":
      return "list";
    default:
      return "string";
  }
}
