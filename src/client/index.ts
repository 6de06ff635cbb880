/**
 * `keyturn/client`: what key holders embed. Imports no server code.
 */
export { exporterDigestOf, SessionClient, type SessionClientOptions, type SessionResponse } from './session.js';
