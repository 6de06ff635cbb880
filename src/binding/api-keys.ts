import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { isNetwork, NetworkList } from '../core/network.js';

/**
 * API keys bound to where they are used from: a list of source networks and/or one client
 * certificate (`x5t#S256`). Checked by `POST /v1/keys/verify` from what the caller says it saw, and
 * by the verifier library from the request's own socket. Pure.
 */

/** How an API key is restricted; at least one member. */
export const keyBindingSchema = z
  .strictObject({
    networks: z
      .array(z.string().max(64).refine(isNetwork, 'an address or a CIDR network'))
      .min(1)
      .max(64)
      .optional(),
    'x5t#S256': z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 certificate thumbprint').optional(),
  })
  .refine((b) => b.networks !== undefined || b['x5t#S256'] !== undefined, 'give networks and/or x5t#S256');
export type KeyBinding = z.output<typeof keyBindingSchema>;

/** Why a bound key was refused: no address/thumbprint given, outside the networks, no or another certificate. */
export const KEY_BINDING_FAILURES = ['missing_binding', 'network', 'missing_certificate', 'wrong_certificate'] as const;
export type KeyBindingFailure = (typeof KEY_BINDING_FAILURES)[number];

const lists = new WeakMap<readonly string[], NetworkList>();

/**
 * Whether a use of a key bound by `binding` is allowed from `seen` (the source address and the
 * client certificate thumbprint of the request, as the caller saw them): `null` when it is, else why
 * not. A restriction the caller gives nothing for fails (`missing_binding` for an address): a
 * verifier that does not pass what it saw cannot accept a restricted key.
 */
export function checkKeyBinding(binding: KeyBinding | undefined, seen: { readonly address?: string | null | undefined; readonly thumbprint?: string | null | undefined }): KeyBindingFailure | null {
  if (binding === undefined) return null;
  if (binding.networks !== undefined) {
    if (!seen.address) return 'missing_binding';
    let list = lists.get(binding.networks);
    if (list === undefined) lists.set(binding.networks, (list = new NetworkList(binding.networks)));
    if (!list.has(seen.address)) return 'network';
  }
  const x5t = binding['x5t#S256'];
  if (x5t !== undefined) {
    if (!seen.thumbprint) return 'missing_certificate';
    if (seen.thumbprint.length !== x5t.length || !timingSafeEqual(Buffer.from(seen.thumbprint), Buffer.from(x5t))) return 'wrong_certificate';
  }
  return null;
}
