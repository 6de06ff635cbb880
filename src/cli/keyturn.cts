#!/usr/bin/env node
/**
 * The installed `keyturn` bin. CommonJS on purpose: node loads it synchronously, so it runs before
 * libuv's thread pool starts (an ES module entry is read through that pool, which then has its
 * size already). The pool reads files (scans), resolves names and runs node's asynchronous
 * crypto; libuv's default of 4 threads on a 2-core machine spends CPU waking and parking threads
 * that have no core to run on (measured when access tokens were signed there: about 12% of the
 * token endpoint's CPU per request; they are signed on keyturn's own signing thread now). The pool
 * gets the machine's cores (at least 2, at most 4) unless `UV_THREADPOOL_SIZE` is set.
 *
 * `keyturn scan` starts from `scan-main.js`, the scan program bundled into one module at build
 * (a pre-commit hook runs it on every commit); every other command from `main.js`.
 */
const { availableParallelism } = require('node:os') as typeof import('node:os');

process.env.UV_THREADPOOL_SIZE ??= String(Math.min(4, Math.max(2, availableParallelism())));
void import(process.argv[2] === 'scan' ? './scan-main.js' : './main.js');
