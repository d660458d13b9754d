// The part of undici the CLI uses (an Agent with the request API), for the CLI bundle only
// (tsup.config.ts maps `import ... from 'undici'` here). undici's index loads all of undici,
// fetch, WebSocket and cookies included, and makes Node load its own internal undici too: about
// a third of the CLI's start-up. This is what undici's index does for these two, nothing more.
'use strict';
const Dispatcher = require('undici/lib/dispatcher/dispatcher');
const Agent = require('undici/lib/dispatcher/agent');
Object.assign(Dispatcher.prototype, require('undici/lib/api'));
module.exports = { Agent, Dispatcher };
