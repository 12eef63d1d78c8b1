// The decode worker: one long-lived thread (started by decodePool.ts) that runs the synchronous pixel codecs, so
// that the engine thread stays free and a frame that takes too long can be stopped by ending this thread.
import { parentPort } from 'node:worker_threads';
import { messageOf, runCodecJob, type CodecJob } from './pixelCodecs';

parentPort?.on('message', (m: { id: number; job: CodecJob }) => {
	runCodecJob(m.job).then(
		(r) => parentPort?.postMessage({ id: m.id, result: r }, [r.pixels.buffer as ArrayBuffer]),
		(e: unknown) => parentPort?.postMessage({ id: m.id, error: messageOf(e) }),
	);
});
