'use strict';

// event: { body, headers, method, query, path }; context: status(), headers(), succeed(), fail().
module.exports = async (event, context) => {
  const result = {
    body: event.body,
    'content-type': event.headers['content-type'],
  };
  return context.status(200).succeed(result);
};
