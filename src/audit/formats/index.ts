/** SIEM wire formats: pure functions from a {@link CanonicalEvent} to syslog, CEF or OCSF. */
export * from './record.js';
export * from './syslog.js';
export * from './cef.js';
export * from './ocsf.js';
