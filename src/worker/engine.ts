// What the worker needs from a front engine (uWebSockets.js, or gatehouse's own on node:net):
// listen on its binds, stop listening (pause, stop), and close every client connection when the
// worker exits. Requests reach the proxy core through the engine's own callbacks.

export interface FrontEngine {
  /** Listen on every bind this engine serves (start, and resume after a pause). */
  listen(): Promise<void>;
  /** Stop accepting new connections; open ones are still served. */
  closeListeners(): void;
  /** Close everything, client connections included (the worker is exiting). */
  close(): void;
}
