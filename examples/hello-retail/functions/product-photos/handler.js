'use strict';
// Receives a product photo (base64), keeps the image in the instance's scratch space for the
// resizer, and records it in the photos table.
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { table } = require('./common/lib');

module.exports = async (event, context) => {
  const { id, photo } = event.body || {};
  if (!id || typeof photo !== 'string') return context.status(400).fail('missing "id" or base64 "photo"');
  const bytes = Buffer.from(photo, 'base64');
  const dir = path.join(os.tmpdir(), 'photos');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${id.replace(/[^A-Za-z0-9_-]/g, '_')}.jpg`);
  fs.writeFileSync(file, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await table('photos').put(id, { size: bytes.length, sha256, at: new Date().toISOString() });
  return context.status(200).succeed({ id, size: bytes.length, sha256 });
};
