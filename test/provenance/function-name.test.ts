// The function's name when ALASTOR_FUNCTION is not set: OpenFaaS pod names are
// <deployment>-<replicaset hash>-<pod suffix>, and the deployment is named after the function.
import { functionFromHostname, functionName } from '../../watchdog/provenance/identity';

test('the Deployment suffixes are stripped from OpenFaaS pod names, other hostnames kept', () => {
  expect(functionFromHostname('authorize-cc-7d9c8b6f4-x2vbq')).toBe('authorize-cc');
  expect(functionFromHostname('product-purchase-5f8d7cbb9d-4kz7p')).toBe('product-purchase');
  expect(functionFromHostname('figlet-66b8b9c5d-zb7qx')).toBe('figlet');
  expect(functionFromHostname('my-laptop')).toBe('my-laptop');
  expect(functionFromHostname('get-price')).toBe('get-price');
  // Not a k8s hash alphabet (vowels, too short): left alone.
  expect(functionFromHostname('build-agent-01')).toBe('build-agent-01');
});

test('ALASTOR_FUNCTION wins over the hostname', () => {
  expect(functionName({ ALASTOR_FUNCTION: 'publish' }, 'other-7d9c8b6f4-x2vbq')).toBe('publish');
  expect(functionName({}, 'publish-7d9c8b6f4-x2vbq')).toBe('publish');
  expect(functionName({ ALASTOR_FUNCTION: '  ' }, 'publish-7d9c8b6f4-x2vbq')).toBe('publish');
});
