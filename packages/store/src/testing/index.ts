export { EMPTY_RECEIPT, runStoreContract } from './store-contract.js';
export { runJobQueueContract, type JobQueueStorage } from './job-queue-contract.js';
