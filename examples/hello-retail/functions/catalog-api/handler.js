'use strict';
// Browsing: GET ?category=NAME lists its products, GET ?id=ID one product, neither the categories.
const { table } = require('./common/lib');

module.exports = async (event, context) => {
  const q = event.query || {};
  if (q.id) {
    const product = await table('catalog').get(q.id);
    return product ? context.status(200).succeed(product) : context.status(404).fail(`no product ${q.id}`);
  }
  const all = Object.values((await table('catalog').all()) || {});
  if (q.category) return context.status(200).succeed(all.filter((p) => p.category === q.category));
  return context.status(200).succeed([...new Set(all.map((p) => p.category))].sort());
};
