import type { Test } from 'tap';
import type { Job, JobQueue } from '../job-queue.js';

/** Fresh, empty queue storage (a database file, a table prefix) that any number of queue instances can open. */
export interface JobQueueStorage {
  /** A new queue instance on this storage (a restart, or another worker process), on the given clock (epoch ms). */
  open(now: () => number): JobQueue;
}

/**
 * The behaviour every JobQueue adapter must have. An adapter's test file calls this with a factory that
 * returns fresh storage; each case opens its queues there on a clock it moves by hand.
 */
export function runJobQueueContract(t: Test, makeStorage: () => Promise<JobQueueStorage>): void {
  const START = 1_000_000;

  const withQueue = (name: string, fn: (t: Test, queue: JobQueue, clock: { at: number }, storage: JobQueueStorage) => Promise<void>) =>
    t.test(name, async (t) => {
      const storage = await makeStorage();
      const clock = { at: START };
      const queue = storage.open(() => clock.at);
      t.teardown(() => queue.close());
      await fn(t, queue, clock, storage);
    });

  const ids = (jobs: Job[]) => jobs.map((j) => j.id);

  withQueue('a claimed job carries what was enqueued, with its first attempt', async (t, queue) => {
    await queue.enqueue({ id: 'job_1', kind: 'formation', userId: 'usr_a', payload: { message_id: 'msg_1', n: 2, nested: { ok: true } } });
    const [job] = await queue.claim('formation', 1000, 5);
    t.same(job, {
      id: 'job_1', kind: 'formation', userId: 'usr_a', payload: { message_id: 'msg_1', n: 2, nested: { ok: true } }, attempts: 1,
      createdAt: new Date(START).toISOString(),
    });
    t.same(await queue.claim('formation', 1000, 0), [], 'a limit of 0 claims nothing');
  });

  withQueue('oldest first, then by id; up to the limit', async (t, queue, clock) => {
    await queue.enqueue({ id: 'job_c', kind: 'k', userId: 'usr_a', payload: {} });
    clock.at += 10;
    await queue.enqueue({ id: 'job_b', kind: 'k', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_a', kind: 'k', userId: 'usr_b', payload: {} });
    clock.at += 10;
    await queue.enqueue({ id: 'job_0', kind: 'k', userId: 'usr_a', payload: {} });
    t.same(ids(await queue.claim('k', 1000, 3)), ['job_c', 'job_a', 'job_b']);
    t.same(ids(await queue.claim('k', 1000, 3)), ['job_0']);
  });

  withQueue('a leased job is not handed out again until its lease runs out, then comes back with attempts + 1', async (t, queue, clock) => {
    await queue.enqueue({ id: 'job_1', kind: 'k', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_2', kind: 'k', userId: 'usr_a', payload: {} });
    t.same(ids(await queue.claim('k', 1000, 1)), ['job_1']);
    t.same(ids(await queue.claim('k', 1000, 5)), ['job_2'], 'the leased job is skipped');
    t.same(await queue.claim('k', 1000, 5), []);
    clock.at += 999;
    t.same(await queue.claim('k', 1000, 5), [], 'still leased a millisecond before the lease ends');
    clock.at += 1;
    t.same((await queue.claim('k', 1000, 5)).map((j) => [j.id, j.attempts]), [['job_1', 2], ['job_2', 2]]);
    t.equal(await queue.size('k'), 2, 'leased jobs are not completed');
  });

  withQueue('jobs survive a new queue instance on the same storage (a restart), leases included', async (t, queue, clock, storage) => {
    await queue.enqueue({ id: 'job_1', kind: 'k', userId: 'usr_a', payload: { message_id: 'msg_1' } });
    await queue.enqueue({ id: 'job_2', kind: 'k', userId: 'usr_b', payload: { message_id: 'msg_2' } });
    t.same(ids(await queue.claim('k', 1000, 1)), ['job_1']);
    await queue.close();
    await queue.close();
    await t.rejects(queue.size('k'), { code: 'PAI_STORE_UNAVAILABLE' }, 'a closed queue refuses');

    const again = storage.open(() => clock.at);
    t.teardown(() => again.close());
    t.equal(await again.size('k'), 2);
    t.same(ids(await again.claim('k', 1000, 5)), ['job_2'], "job_1's lease outlives the restart");
    clock.at += 1000;
    const retried = await again.claim('k', 1000, 5);
    t.same(retried.map((j) => [j.id, j.attempts, j.payload]), [['job_1', 2, { message_id: 'msg_1' }], ['job_2', 2, { message_id: 'msg_2' }]]);
  });

  withQueue('release: back after the delay, without counting an attempt', async (t, queue, clock) => {
    await queue.enqueue({ id: 'job_1', kind: 'k', userId: 'usr_a', payload: {} });
    await queue.claim('k', 60_000, 1);
    await queue.release('job_1', 5000);
    clock.at += 4999;
    t.same(await queue.claim('k', 60_000, 5), [], 'not before the delay');
    clock.at += 1;
    t.same((await queue.claim('k', 60_000, 5)).map((j) => [j.id, j.attempts]), [['job_1', 2]]);
    await queue.release('job_1', 0);
    t.same((await queue.claim('k', 60_000, 5)).map((j) => [j.id, j.attempts]), [['job_1', 3]], 'a delay of 0: available at once');
  });

  withQueue('complete removes the job; completing or releasing it again changes nothing', async (t, queue, clock) => {
    await queue.enqueue({ id: 'job_1', kind: 'k', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_2', kind: 'k', userId: 'usr_a', payload: {} });
    await queue.claim('k', 1000, 5);
    await queue.complete('job_1');
    t.equal(await queue.size('k'), 1);
    await queue.complete('job_1');
    await queue.release('job_1', 0);
    await queue.complete('job_unknown');
    await queue.release('job_unknown', 0);
    clock.at += 1000;
    t.same(ids(await queue.claim('k', 1000, 5)), ['job_2'], 'the completed job does not come back');
    t.equal(await queue.size('k'), 1);
  });

  withQueue('kinds are separate queues: claim and size see only their kind', async (t, queue) => {
    await queue.enqueue({ id: 'job_1', kind: 'formation', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_2', kind: 'other', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_3', kind: 'formations', userId: 'usr_a', payload: {} });
    t.equal(await queue.size('formation'), 1);
    t.equal(await queue.size('other'), 1);
    t.equal(await queue.size('none'), 0);
    t.same(ids(await queue.claim('formation', 1000, 5)), ['job_1']);
    t.same(ids(await queue.claim('other', 1000, 5)), ['job_2']);
    t.same(await queue.claim('none', 1000, 5), []);
  });

  withQueue("purgeUser drops the user's jobs of every kind, leased or not, and only theirs", async (t, queue) => {
    await queue.enqueue({ id: 'job_1', kind: 'formation', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_2', kind: 'formation', userId: 'usr_b', payload: {} });
    await queue.enqueue({ id: 'job_3', kind: 'other', userId: 'usr_a', payload: {} });
    await queue.enqueue({ id: 'job_4', kind: 'formation', userId: 'usr_a', payload: {} });
    await queue.claim('formation', 1000, 1);
    t.equal(await queue.purgeUser('usr_a'), 3);
    t.equal(await queue.purgeUser('usr_a'), 0, 'a repeat finds nothing');
    t.equal(await queue.purgeUser('usr_nobody'), 0);
    t.equal(await queue.size('formation'), 1);
    t.equal(await queue.size('other'), 0);
    t.same(ids(await queue.claim('formation', 1000, 5)), ['job_2']);
    await queue.release('job_1', 0);
    t.equal(await queue.size('formation'), 1, 'releasing a purged job does not bring it back');
  });

  withQueue('two queue instances claiming at the same time never get the same job', async (t, queue, clock, storage) => {
    const other = storage.open(() => clock.at);
    t.teardown(() => other.close());
    const total = 24;
    for (let i = 0; i < total; i++) {
      await queue.enqueue({ id: `job_${String(i).padStart(3, '0')}`, kind: 'k', userId: `usr_${i % 3}`, payload: { i } });
    }
    // Every round both workers go for the same jobs at once, several claims each.
    const claimed: string[][] = [];
    for (let round = 0; round < 10; round++) {
      const batches = await Promise.all([queue, other, queue, other].map((q) => q.claim('k', 60_000, 5)));
      claimed.push(...batches.map(ids));
      if (batches.every((b) => b.length === 0)) break;
    }
    const all = claimed.flat();
    t.equal(new Set(all).size, all.length, 'no job was handed out twice');
    t.equal(all.length, total, 'every job was handed out');
    t.ok(claimed.filter((c) => c.length > 0).length >= 2, 'the work was spread over several claims');
    t.same(await queue.claim('k', 60_000, 5), []);
    // Once the leases run out, again exactly one worker gets each job.
    clock.at += 60_000;
    const again = (await Promise.all([queue.claim('k', 1000, total), other.claim('k', 1000, total)])).map((jobs) => jobs.map((j) => j.attempts));
    t.equal(again[0]!.length + again[1]!.length, total);
    t.ok([...again[0]!, ...again[1]!].every((a) => a === 2), 'each job was taken once more: attempts 2');
  });
}
