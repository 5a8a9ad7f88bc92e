// The worker is shared with the search service (document indexing); it lives with the queue port.
export { createJobWorker, type JobHandler, type JobLog, type JobWorker, type JobWorkerOptions } from '@pai/store';
