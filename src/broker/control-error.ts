/**
 * Errors of control-plane operations (users, vhosts, permissions, policies, parameters, limits):
 * what was wrong, in RabbitMQ's words, without any HTTP or AMQP framing. The management API maps
 * them to RabbitMQ's status codes and bodies (`invalid` -> 400 "Validation failed\n\n<reason>\n",
 * `missing` -> 404/400 per endpoint, as RabbitMQ answers).
 */
export type ControlErrorKind =
  /** A value failed validation (rabbit_parameter_validation / rabbit_policy texts). */
  | 'invalid'
  /** A named object the operation needs does not exist (vhost, user, component). */
  | 'missing';

export class ControlError extends Error {
  constructor(readonly kind: ControlErrorKind, readonly reason: string) {
    super(reason);
    this.name = 'ControlError';
  }
}

export function invalid(reason: string): ControlError {
  return new ControlError('invalid', reason);
}

export function missing(reason: string): ControlError {
  return new ControlError('missing', reason);
}

type Term = null | boolean | number | string | readonly Term[] | { readonly [key: string]: Term };

/**
 * A JSON value printed as RabbitMQ prints the Erlang term it decoded it into (`~p`), for reasons
 * like `<<"x">> is not a valid maximum length`: strings are binaries, objects are maps.
 */
export function erlangTerm(v: Term): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `<<${JSON.stringify(v)}>>`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${(v as readonly Term[]).map(erlangTerm).join(',')}]`;
  const entries = Object.entries(v as { readonly [key: string]: Term });
  return `#{${entries.map(([k, x]) => `${erlangTerm(k)} => ${erlangTerm(x)}`).join(',')}}`;
}
