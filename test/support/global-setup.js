// Build the bundles once when jest is run directly (npm test builds already; this keeps
// `npx jest path` honest too, since tests exercise dist/ rather than the sources).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  if (process.env.ALASTOR_SKIP_BUILD === '1') return;
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'build.mjs')], { stdio: 'inherit' });
};
