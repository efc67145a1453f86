#!/usr/bin/env node
// The trainer's command line; `npm run build` writes dist/trainer.js.
require('../dist/trainer.js');
