// A worker thread that hosts one peer (see createPeerInWorker in peers.ts): workerData is the PeerSpec,
// requests are {id, op: 'prepare' | 'run' | 'dispose'}, replies carry the same id.

import { parentPort, workerData } from 'node:worker_threads';
import { createPeer, type Peer, type PeerSpec, type WorkerReply, type WorkerRequest } from './peers.js';

const port = parentPort;
if (port === null) throw new Error('peer-worker.ts runs as a worker thread (createPeerInWorker)');
const send = (reply: WorkerReply): void => port.postMessage(reply);
const errorReply = (id: number, error: unknown): WorkerReply => ({
  id,
  op: 'error',
  message: error instanceof Error ? error.message : String(error),
  ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
});

let peer: Peer;
try {
  peer = await createPeer(workerData as PeerSpec);
} catch (error) {
  send(errorReply(0, error));
  throw error;
}
send({ id: 0, op: 'ready', version: peer.version, label: peer.label });

// one request at a time, in order
let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    try {
      switch (request.op) {
        case 'prepare':
          await peer.prepare(request.batch);
          send({ id: request.id, op: 'done' });
          break;
        case 'run':
          send({ id: request.id, op: 'done', logits: await peer.run() });
          break;
        case 'dispose':
          await peer.dispose();
          send({ id: request.id, op: 'done' });
          port.close();
          break;
      }
    } catch (error) {
      send(errorReply(request.id, error));
    }
  });
});
