import { connect, createServer, type Server, type Socket } from "node:net";

export interface TestServer {
  port: number;
  /** Every byte the server received, across connections. */
  received: () => number;
  close(): Promise<void>;
}

function listen(server: Server, received: () => number): Promise<TestServer> {
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : 0,
        received,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Echoes every byte back and half-closes when the client does. */
export function startEchoServer(): Promise<TestServer> {
  let received = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("data", (d: Buffer) => {
      received += d.length;
    });
    socket.pipe(socket);
  });
  return listen(server, () => received);
}

/** Sends `payload` to every client as soon as it connects, then closes. */
export function startSendingServer(payload: Buffer): Promise<TestServer> {
  const server = createServer((socket) => socket.end(payload));
  return listen(server, () => 0);
}

export interface ClientRecording {
  socket: Socket;
  startedAt: number;
  chunks: { at: number; data: Buffer }[];
  /** Resolves on close with how it ended. */
  closed: Promise<{ at: number; error?: NodeJS.ErrnoException }>;
  endedAt?: number;
  bytes(): number;
  text(): string;
  /** Resolves once at least `n` bytes have arrived; rejects if the socket closes first. */
  waitForBytes(n: number): Promise<number>;
}

/** Connects to `port` and records every chunk with its arrival time. */
export function record(port: number): Promise<ClientRecording> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const chunks: { at: number; data: Buffer }[] = [];
    let error: NodeJS.ErrnoException | undefined;
    const waiters: (() => void)[] = [];
    const bytes = () => chunks.reduce((n, c) => n + c.data.length, 0);
    const recording: ClientRecording = {
      socket,
      startedAt: performance.now(),
      chunks,
      closed: new Promise((done) => {
        socket.on("close", () => {
          for (const w of waiters) w();
          done({ at: performance.now(), ...(error ? { error } : {}) });
        });
      }),
      bytes,
      text: () => Buffer.concat(chunks.map((c) => c.data)).toString(),
      waitForBytes: (n) =>
        new Promise((ok, fail) => {
          const check = () => {
            if (bytes() >= n) ok(performance.now());
            else if (socket.destroyed || socket.readableEnded)
              fail(new Error(`closed after ${bytes()} bytes`));
            else waiters.push(check);
          };
          check();
        }),
    };
    socket.on("data", (data: Buffer) => {
      chunks.push({ at: performance.now(), data });
      for (const w of waiters.splice(0)) w();
    });
    socket.on("end", () => {
      recording.endedAt = performance.now();
      for (const w of waiters.splice(0)) w();
    });
    socket.on("error", (e) => {
      error = e;
    });
    socket.once("connect", () => resolve(recording));
    socket.once("error", reject);
  });
}
