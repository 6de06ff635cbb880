import { checkKeyBinding } from '../../binding/index.js';
import { KeyturnError, type KeyturnErrorCode } from '../../core/errors.js';
import type { KeyService, VerificationFailure, VerifiedKey } from '../../keys/service.js';
import { parseForm } from '../form.js';
import { held, rateLimited, type FailureLimits } from '../rate-limit.js';
import { errorAnswer, hotMeta, isForm, jsonAnswer, type HotAnswer, type HotRequest } from './request.js';

/** Stable codes for failed verifications, as `POST /v1/keys/verify` answers them. */
export const FAILURE_CODES: Readonly<Record<VerificationFailure, KeyturnErrorCode>> = {
  malformed: 'ERR_SECRET_FORMAT',
  unknown: 'ERR_KEY_UNKNOWN',
  expired: 'ERR_KEY_EXPIRED',
  revoked: 'ERR_KEY_REVOKED',
  suspended: 'ERR_KEY_SUSPENDED',
  principal_inactive: 'ERR_PRINCIPAL_INACTIVE',
};

/** The path of the verification endpoint. */
export const VERIFY_PATH = '/v1/keys/verify';

/** Answers for valid keys, built once per cache entry (the key service shares the object). */
const validAnswers = new WeakMap<VerifiedKey, HotAnswer>();

/** The prebuilt answer for a valid key. */
function validAnswer(key: VerifiedKey): HotAnswer {
  let answer = validAnswers.get(key);
  if (answer === undefined) {
    answer = jsonAnswer(
      200,
      JSON.stringify({
        valid: true, keyId: key.id, principal: key.principal, scopes: key.scopes, expiresAt: key.expiresAt,
        ...(key.rotation ? { rotation: key.rotation } : {}),
        ...(key.binding ? { binding: key.binding } : {}),
      }),
    );
    validAnswers.set(key, answer);
  }
  return answer;
}

const failureAnswers = new Map<VerificationFailure, HotAnswer>(
  (Object.keys(FAILURE_CODES) as VerificationFailure[]).map((reason) => [reason, jsonAnswer(200, JSON.stringify({ valid: false, code: FAILURE_CODES[reason] }))]),
);

const BAD_BODY = 'body must be {"key": "<api key>"} (optionally "address" and "x5t#S256": where the caller saw it used from)';

const BINDING_MISMATCH = jsonAnswer(200, JSON.stringify({ valid: false, code: 'ERR_BINDING_MISMATCH' }));

/** What the caller saw, for keys bound to networks or a certificate. */
interface Seen {
  readonly address?: string;
  readonly thumbprint?: string;
}

/** The presented key from the body (`{"key": "…"}`, or a form with `key`), or an error answer. */
function presentedKey(request: HotRequest, seen?: { value?: Seen }): string | HotAnswer {
  const body = request.body;
  let parsed: unknown;
  if (isForm(request.header('content-type'))) {
    try {
      parsed = parseForm(body);
    } catch (err) {
      return errorAnswer(err as KeyturnError);
    }
  } else {
    try {
      parsed = JSON.parse(body);
    } catch {
      return errorAnswer(new KeyturnError('ERR_MALFORMED_BODY', body.length === 0 ? 'request body is empty' : 'request body is not valid JSON'));
    }
  }
  const fields = parsed !== null && typeof parsed === 'object' ? (parsed as { key?: unknown; address?: unknown; 'x5t#S256'?: unknown }) : undefined;
  const key = fields?.key;
  if (typeof key !== 'string') return errorAnswer(new KeyturnError('ERR_VALIDATION', BAD_BODY));
  const { address, 'x5t#S256': thumbprint } = fields!;
  if (address !== undefined || thumbprint !== undefined) {
    if ((address !== undefined && (typeof address !== 'string' || address.length > 64)) || (thumbprint !== undefined && (typeof thumbprint !== 'string' || thumbprint.length > 64))) {
      return errorAnswer(new KeyturnError('ERR_VALIDATION', BAD_BODY));
    }
    if (seen) seen.value = { ...(address === undefined ? {} : { address: address as string }), ...(thumbprint === undefined ? {} : { thumbprint: thumbprint as string }) };
  }
  return key;
}

/**
 * `POST /v1/keys/verify`: `{"key": "…"}` in, `{valid, keyId, principal, scopes, expiresAt}` or
 * `{valid: false, code}` out. A key this node has cached is answered synchronously from a
 * prebuilt answer; anything else reads the store (and a failure is recorded, aggregated). A
 * failure past the source network's limit (`limits`) is answered 429 `ERR_RATE_LIMITED` with
 * `Retry-After` instead; a valid key is answered as valid whatever its source did before.
 * `onError` hears an outage (answered 503 `ERR_STORE_UNAVAILABLE`) for the log.
 */
export function verifyHandler(keys: KeyService, onError: (err: unknown, requestId: string) => void, limits: FailureLimits) {
  const unavailable = errorAnswer(new KeyturnError('ERR_STORE_UNAVAILABLE', 'verification is temporarily unavailable'));
  return function verify(request: HotRequest): HotAnswer | Promise<HotAnswer> {
    const seen: { value?: Seen } = {};
    const key = presentedKey(request, seen);
    if (typeof key !== 'string') return key;
    const hit = keys.peek(key);
    if (hit && hit.key.binding === undefined) {
      keys.noteUse(hit.key.id, request.sourceIp);
      return validAnswer(hit.key);
    }
    const bound = (verified: VerifiedKey): HotAnswer | Promise<HotAnswer> => {
      const failure = checkKeyBinding(verified.binding, seen.value ?? {});
      if (failure === null) {
        keys.noteUse(verified.id, request.sourceIp);
        return validAnswer(verified);
      }
      return keys.recordBindingFailure(verified.id, failure, hotMeta(request)).then(() => BINDING_MISMATCH, () => BINDING_MISMATCH);
    };
    if (hit) return bound(hit.key);
    return keys.verify(key, hotMeta(request)).then(
      (result) => {
        if (result.valid) return bound(result.key);
        const wait = limits.fail('verify', request.sourceIp);
        return wait === undefined ? failureAnswers.get(result.reason)! : held(limits, errorAnswer(rateLimited(wait)));
      },
      (err: unknown) => {
        onError(err, request.requestId);
        return unavailable;
      },
    );
  };
}
