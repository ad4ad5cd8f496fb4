'use strict';
const { table } = require('./common/lib');

module.exports = async (event, context) => {
  const id = (event.body && event.body.id) || event.query.id;
  if (!id) return context.status(400).fail('missing "id"');
  const row = await table('prices').get(id);
  if (!row) return context.status(404).fail(`no price for ${id}`);
  return context.status(200).succeed({ id, price: row.price, currency: row.currency || 'USD' });
};
