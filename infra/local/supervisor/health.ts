import * as grpc from '@grpc/grpc-js';

/**
 * grpc.health.v1.Health/Check without a .proto file: the request `{service: ""}` encodes to zero bytes and the
 * response is `{status: enum}` = field 1 varint (1 = SERVING). Hand-coding two tiny messages keeps the probe free
 * of runtime proto loading (the compiled lib/ has no .proto files).
 */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
export const SERVING = 1;

export function encodeHealthRequest(service = ''): Buffer {
  const name = Buffer.from(service, 'utf8');
  if (name.length === 0) return Buffer.alloc(0);
  if (name.length > 127) throw new Error('service name too long for the health probe');
  return Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

export function decodeHealthResponse(buf: Buffer): { status: number } {
  let i = 0;
  let status = 0;
  while (i < buf.length) {
    const tag = buf[i++] ?? 0;
    if (tag === 0x08) {
      let v = 0;
      let shift = 0;
      for (;;) {
        const b = buf[i++] ?? 0;
        v |= (b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) === 0 || i >= buf.length) break;
      }
      status = v;
    } else {
      break; // unknown fields: the status is all a probe needs
    }
  }
  return { status };
}

export function encodeHealthResponse(status: number): Buffer {
  return Buffer.from([0x08, status]);
}

/** A reusable probe for one pod: keeps one channel, like the kubelet's gRPC prober reuses its connection. */
export class GrpcHealthProbe {
  private readonly client: grpc.Client;

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
    });
  }

  check(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        HEALTH_CHECK_PATH,
        (req: Buffer) => req,
        (res: Buffer) => decodeHealthResponse(res),
        encodeHealthRequest(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => resolve(!err && res?.status === SERVING),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** HTTP readiness as the upstream frontend probe does it (GET with the probe session cookie), 200..399 = ready. */
export async function checkHttp(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, {
      headers: { Cookie: 'shop_session-id=x-readiness-probe' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}
