/**
 * Checks on a parsed config text that the parsers do not make: a key given twice in JSON (the YAML
 * parser refuses it, `JSON.parse` keeps the last), and a YAML alias that contains itself
 * (`subject: &r {a: *r}` parses to a cyclic object). Both name the path, as every config error does.
 *
 * @module
 */

/** One open container of the JSON scan: an object's keys so far and current key, or an array's index. */
interface Frame {
  readonly keys: Set<string> | undefined;
  key: string;
  index: number;
}

/**
 * The path of the first key an object of `text` repeats (`request.inputs[2].name`), or undefined.
 *
 * Invariant: `text` is valid JSON (`JSON.parse` accepted it), so the scan only tracks strings,
 * brackets and commas; it holds the keys of the open objects only, and runs in one pass.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { duplicateJsonKey } from "./text_checks.ts";
 * assert.equal(duplicateJsonKey('{"a": [{"b": 1, "b": 2}]}'), "a[0].b");
 * assert.equal(duplicateJsonKey('{"a": 1, "b": {"a": 2}}'), undefined);
 * ```
 */
export function duplicateJsonKey(text: string): string | undefined {
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (let d = text.charCodeAt(j); d !== 0x22; d = text.charCodeAt(++j)) {
        if (d === 0x5c /* \ */) {
          escaped = true;
          j++;
        }
      }
      if (expectKey) {
        const top = stack.at(-1)!;
        const key: string = escaped ? JSON.parse(text.slice(i, j + 1)) : text.slice(i + 1, j);
        if (top.keys!.has(key)) return pathOf(stack, key);
        top.keys!.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), key: "", index: 0 });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ keys: undefined, key: "", index: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1)!;
      if (top.keys) expectKey = true;
      else top.index++;
    }
  }
  return undefined;
}

/** `a.b[2].c` of the open containers, then `last`. */
function pathOf(stack: readonly Frame[], last: string): string {
  let path = "";
  for (const frame of stack.slice(0, -1)) {
    path = frame.keys ? join(path, frame.key) : `${path}[${frame.index}]`;
  }
  return join(path, last);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/**
 * The path of the first value that contains itself (a YAML alias inside its own anchor), or
 * undefined when `value` is a tree. Shared values that are not cycles (`a: &x {}`, `b: *x`) are
 * fine.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { selfReference } from "./text_checks.ts";
 * const r: Record<string, unknown> = {};
 * r.a = r;
 * assert.equal(selfReference({ request: { subject: r } }), "request.subject.a");
 * const shared = {};
 * assert.equal(selfReference({ a: shared, b: shared }), undefined);
 * ```
 */
export function selfReference(value: unknown): string | undefined {
  // Iterative DFS (a deep config must not overflow the stack): `open` holds the ancestors.
  const open = new Set<object>();
  const done = new Set<object>();
  type Step = { node: object; path: string; entries: [string, unknown][]; at: number };
  const enter = (node: object, path: string): Step => {
    open.add(node);
    const entries: [string, unknown][] = Array.isArray(node)
      ? node.map((v, i) => [`${path}[${i}]`, v])
      : Object.entries(node).map(([k, v]) => [path ? `${path}.${k}` : k, v]);
    return { node, path, entries, at: 0 };
  };
  if (typeof value !== "object" || value === null) return undefined;
  const stack: Step[] = [enter(value, "")];
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const next = top.entries[top.at++];
    if (next === undefined) {
      open.delete(top.node);
      done.add(top.node);
      stack.pop();
      continue;
    }
    const [path, child] = next;
    if (typeof child !== "object" || child === null || done.has(child)) continue;
    if (open.has(child)) return path;
    stack.push(enter(child, path));
  }
  return undefined;
}
