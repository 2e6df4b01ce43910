/// <reference lib="dom" />
// Runs in Chromium through page.evaluate, hence the DOM types.

export interface HandshakeInput {
  readonly url: string;
  /** The token to present in the handshake's auth; absent: no auth at all. */
  readonly token?: string;
  /** A control message to send once the namespace answered the connect, accepted or not. */
  readonly control?: { readonly taskId: string; readonly action: string };
}

/**
 * Speak Socket.io by hand over a browser WebSocket (Engine.IO 4 frames): connect to the
 * `/operator` namespace with a token, send a control message whatever the answer was, and
 * return every frame the coordinator sent. `40/operator,` accepts the connect, `44/operator,`
 * refuses it, `43/operator,7` acknowledges the control message.
 */
export function operatorHandshake(input: HandshakeInput): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${input.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const frames: string[] = [];
    ws.onerror = () => reject(new Error('websocket failed'));
    ws.onmessage = (event) => {
      const frame = String(event.data);
      frames.push(frame);
      if (frame.startsWith('0')) {
        ws.send(`40/operator,${JSON.stringify(input.token === undefined ? {} : { token: input.token })}`);
      } else if (frame === '2') {
        ws.send('3');
      } else if (frame.startsWith('40/operator,') || frame.startsWith('44/operator,')) {
        if (input.control) ws.send(`42/operator,7${JSON.stringify(['control', input.control])}`);
        setTimeout(() => {
          ws.close();
          resolve(frames);
        }, 750);
      }
    };
  });
}
