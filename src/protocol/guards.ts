// Tiny runtime guards for messages that cross a boundary (webview ↔ host, worker ↔ host).
// Messages are `any` at runtime: everything is checked, and unknown keys are rejected so that
// a confused or hostile sender cannot smuggle fields past a guard.

export type Guard<T> = (v: unknown) => v is T;

export function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
/** Finite numbers only: NaN and Infinity never mean anything in our messages. */
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);
/** Non-empty and bounded: paths and ids are never empty, and 4096 chars is more than any real path. */
export const isShortString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 4096;

export function isOneOf<T extends string>(values: readonly T[]): Guard<T> {
	return (v: unknown): v is T => typeof v === 'string' && (values as readonly string[]).includes(v);
}

export function isArrayOf<T>(item: Guard<T>): Guard<T[]> {
	return (v: unknown): v is T[] => Array.isArray(v) && v.every(item);
}

export function isOptional<T>(g: Guard<T>): Guard<T | undefined> {
	return (v: unknown): v is T | undefined => v === undefined || g(v);
}

/** Field guards of a message; keys typed as optional are checked with `isOptional`. */
export type Shape<T> = { [K in keyof T]-?: Guard<T[K]> };

/** An object with exactly these keys (optional ones may be absent) and valid values. */
export function isShape<T>(v: unknown, shape: Shape<T>): v is T {
	if (!isRecord(v)) return false;
	for (const key of Object.keys(v)) {
		if (!Object.prototype.hasOwnProperty.call(shape, key)) return false;
	}
	for (const key of Object.keys(shape) as (keyof T & string)[]) {
		if (!shape[key](v[key])) return false;
	}
	return true;
}

/** Builds a guard from a shape. */
export function shape<T>(s: Shape<T>): Guard<T> {
	return (v: unknown): v is T => isShape(v, s);
}

/**
 * Builds a guard for a discriminated union on `type`: one shape per member, keyed by its `type` value.
 * A message whose `type` has no shape is rejected.
 */
export function unionGuard<T extends { type: string }>(shapes: { [K in T['type']]: Shape<Omit<Extract<T, { type: K }>, 'type'>> }): Guard<T> {
	return (v: unknown): v is T => {
		if (!isRecord(v) || typeof v.type !== 'string') return false;
		if (!Object.prototype.hasOwnProperty.call(shapes, v.type)) return false;
		const s = (shapes as Record<string, Record<string, Guard<unknown>>>)[v.type];
		const { type: _type, ...rest } = v;
		return isShape(rest, s);
	};
}

/** For exhaustive switches: `default: throw new UnreachableCaseError(msg)`. */
export class UnreachableCaseError extends Error {
	constructor(value: never) {
		super(`Unreachable case: ${JSON.stringify(value)}`);
	}
}
