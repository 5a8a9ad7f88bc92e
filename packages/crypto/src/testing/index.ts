export { runKeyProviderContract, rejection, type KeyProviderHarness } from './key-provider-contract.js';
export { createMemoryDataKeyStorage, type MemoryDataKeyStorage } from './memory-data-key-storage.js';
export {
  startKmsTestServer,
  createKmsTestClient,
  type KmsTestServer,
  type KmsTestKey,
  type KmsRecordedRequest,
  type KmsFailure,
  type KmsFailureScope,
  type KmsKeyState,
} from './kms-server.js';
