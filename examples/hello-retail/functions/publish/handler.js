'use strict';
// Publishes a purchase event (Hello Retail's event stream) into the purchases table.
const { table } = require('./common/lib');

module.exports = async (event, context) => {
  const { id, user, price, authorization } = event.body || {};
  if (!id || !user) return context.status(400).fail('missing "id" or "user"');
  const stored = await table('purchases').append({ type: 'product-purchase', id, user, price, authorization, at: new Date().toISOString() });
  return context.status(200).succeed({ id: stored.key });
};
