'use strict';
// The purchase workflow: price and card authorization in parallel, then publish the purchase.
const { call } = require('./common/lib');

module.exports = async (event, context) => {
  const { id, user, creditCard, malicious, payloadUrl } = event.body || {};
  if (!id || !user) return context.status(400).fail('a purchase needs "id" (product) and "user"');
  const post = (fn, body) => call(fn, '/', { method: 'POST', body });
  const [price, auth] = await Promise.all([
    post('get-price', { id }),
    // The request's own fields reach authorize-cc unchanged: that is how the attack rides along.
    post('authorize-cc', { user, creditCard, malicious, payloadUrl }),
  ]);
  if (!price) return context.status(404).fail(`no such product: ${id}`);
  if (!auth || !auth.approved) return context.status(402).succeed({ id, user, approved: false });
  const published = await post('publish', { id, user, price: price.price, authorization: auth.authorization });
  return context.status(200).succeed({ id, user, price: price.price, authorization: auth.authorization, purchase: published.id });
};
