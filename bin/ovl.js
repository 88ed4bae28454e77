#!/usr/bin/env node
// The CLI is compiled by `npm install` (prepare) into dist/; run `npm run build` after editing src/.
import '../dist/src/cli.js';
