'use strict';
// Registers a product: its catalog entry and its price.
const { table } = require('./common/lib');

module.exports = async (event, context) => {
  const { id, name, category, brand, description, price } = event.body || {};
  if (!id || !name || !category || typeof price !== 'number') {
    return context.status(400).fail('a product needs "id", "name", "category" and a numeric "price"');
  }
  await Promise.all([
    table('catalog').put(id, { id, name, category, brand: brand || '', description: description || '' }),
    table('prices').put(id, { price, currency: 'USD' }),
  ]);
  return context.status(201).succeed({ id });
};
