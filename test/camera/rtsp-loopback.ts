import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A minimal RTSP camera on 127.0.0.1 for tests (no RTSP server package is available here):
 * an ffmpeg encodes a test pattern to MPEG-TS, and this server hands it to RTSP clients as
 * RTP payload type 33 (MP2T, RFC 2250) interleaved on the RTSP TCP connection
 * (RTP/AVP/TCP, what `-rtsp_transport tcp` asks for). OPTIONS, DESCRIBE, SETUP, PLAY and
 * TEARDOWN are answered; that is all ffmpeg's RTSP client needs.
 */
export class RtspLoopbackCamera {
  private server: Server | undefined;
  private encoder: ChildProcess | undefined;
  private readonly players = new Set<Socket>();
  private pending = Buffer.alloc(0);
  private seq = 0;
  private readonly ssrc = 0x1234abcd;
  private readonly started = Date.now();
  /** Number of RTSP sessions that reached PLAY (a reconnecting client counts again). */
  plays = 0;
  /** While true the camera keeps connections open but sends nothing (a frozen camera). */
  frozen = false;

  constructor(private readonly input: { width: number; height: number; fps: number }) {}

  get url(): string {
    const port = (this.server?.address() as AddressInfo | null)?.port;
    return `rtsp://127.0.0.1:${port}/live`;
  }

  async start(): Promise<void> {
    const { width, height, fps } = this.input;
    this.encoder = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        `testsrc=size=${width}x${height}:rate=${fps}`,
        '-c:v',
        'mpeg2video',
        '-q:v',
        '5',
        '-g',
        String(fps),
        '-f',
        'mpegts',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.encoder.stdout?.on('data', (chunk: Buffer) => this.onTs(chunk));
    this.server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  /** Drops every connected client (as a flaky camera would). */
  dropClients(): void {
    for (const s of this.players) s.destroy();
    this.players.clear();
  }

  async stop(): Promise<void> {
    this.dropClients();
    this.encoder?.kill('SIGKILL');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private onTs(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    const packetBytes = 188 * 7;
    while (this.pending.length >= packetBytes) {
      const payload = this.pending.subarray(0, packetBytes);
      this.pending = this.pending.subarray(packetBytes);
      const rtp = Buffer.alloc(12);
      rtp[0] = 0x80;
      rtp[1] = 33;
      rtp.writeUInt16BE(this.seq++ & 0xffff, 2);
      rtp.writeUInt32BE(((Date.now() - this.started) * 90) >>> 0, 4);
      rtp.writeUInt32BE(this.ssrc, 8);
      const frame = Buffer.alloc(4);
      frame[0] = 0x24; // '$' interleaved
      frame[1] = 0; // channel 0 = RTP
      frame.writeUInt16BE(rtp.length + payload.length, 2);
      const packet = Buffer.concat([frame, rtp, payload]);
      if (!this.frozen) for (const s of this.players) if (!s.destroyed) s.write(packet);
    }
  }

  private onConnection(socket: Socket): void {
    let buffered = '';
    socket.on('error', () => this.players.delete(socket));
    socket.on('close', () => this.players.delete(socket));
    socket.on('data', (data: Buffer) => {
      // Clients may send RTCP interleaved ('$') after PLAY; only parse text requests.
      if (data[0] === 0x24) return;
      buffered += data.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const request = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        this.answer(socket, request);
      }
    });
  }

  private answer(socket: Socket, request: string): void {
    const [line, ...headerLines] = request.split('\r\n');
    const [method, uri] = line.split(' ');
    const cseq =
      headerLines
        .find((h) => /^cseq:/i.test(h))
        ?.split(':')[1]
        .trim() ?? '0';
    const reply = (status: string, headers: string[] = [], body = '') => {
      const all = [`RTSP/1.0 ${status}`, `CSeq: ${cseq}`, ...headers];
      if (body) all.push('Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`);
      socket.write(all.join('\r\n') + '\r\n\r\n' + body);
    };
    switch (method) {
      case 'OPTIONS':
        reply('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN']);
        break;
      case 'DESCRIBE': {
        const sdp = [
          'v=0',
          'o=- 0 0 IN IP4 127.0.0.1',
          's=facegate test camera',
          'c=IN IP4 127.0.0.1',
          't=0 0',
          'm=video 0 RTP/AVP 33',
          'a=rtpmap:33 MP2T/90000',
          'a=control:track0',
          '',
        ].join('\r\n');
        reply('200 OK', [`Content-Base: ${uri}/`], sdp);
        break;
      }
      case 'SETUP':
        reply('200 OK', ['Transport: RTP/AVP/TCP;unicast;interleaved=0-1', 'Session: 12345678;timeout=60']);
        break;
      case 'PLAY':
        reply('200 OK', ['Session: 12345678']);
        this.plays += 1;
        this.players.add(socket);
        break;
      case 'TEARDOWN':
        reply('200 OK', ['Session: 12345678']);
        this.players.delete(socket);
        socket.end();
        break;
      default:
        reply('501 Not Implemented');
    }
  }
}
