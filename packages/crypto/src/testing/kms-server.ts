/**
 * A local stand-in for AWS KMS, for tests only: speaks KMS's JSON 1.1 protocol (`POST /`,
 * `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: TrentService.<Operation>`) for
 * GenerateDataKey, Encrypt, Decrypt, ReEncrypt and DescribeKey, so the real @aws-sdk/client-kms can be
 * pointed at it. Any SigV4 signature is accepted (an unsigned request is refused, as KMS does).
 *
 * The cryptography is real: each key has its own AES-256 key material (rotatable; old material keeps
 * decrypting), and ciphertext blobs bind the EncryptionContext as AAD, so a wrong context fails with
 * InvalidCiphertextException like KMS. Errors use KMS's wire format (`{"__type", "message"}`). Every
 * request is recorded (operation, key id, encryption contexts — never plaintext). Failures can be
 * injected: connection refused (`down`), connection reset, throttling, internal errors, slowness, and
 * key states (disabled, pending deletion).
 *
 * Fake ciphertext blob: 'K' 0x01 ‖ u8 len ‖ key id ‖ u32 material version ‖ iv[12] ‖ tag[16] ‖ ct.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { canonicalAad } from '../canonical-aad.js';

export type KmsKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface KmsTestKey {
  keyId: string;
  arn: string;
}

export interface KmsRecordedRequest {
  /** The operation, e.g. `GenerateDataKey`. */
  target: string;
  /** KeyId as sent (DestinationKeyId for ReEncrypt), if any. */
  keyId?: string;
  /** EncryptionContext (SourceEncryptionContext for ReEncrypt), if any. */
  encryptionContext?: Record<string, string>;
  destinationEncryptionContext?: Record<string, string>;
  /** Whether it carried a SigV4 Authorization header. */
  signed: boolean;
}

export type KmsFailure =
  /** The connection is closed without an answer. */
  | { kind: 'reset' }
  /** 400 ThrottlingException, as KMS answers when a request quota is exceeded. */
  | { kind: 'throttle' }
  /** 500 KMSInternalException. */
  | { kind: 'internal' }
  /** The answer is delayed. */
  | { kind: 'slow'; delayMs: number };

export interface KmsFailureScope {
  /** Only these operations fail (default: all). */
  targets?: readonly string[];
  /** Only this many requests fail (default: until `heal()`). */
  times?: number;
}

export interface KmsTestServer {
  /** `http://127.0.0.1:<port>`, for the client's `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  /** Requests received, oldest first. */
  readonly requests: KmsRecordedRequest[];
  /** A new symmetric encryption key, optionally with an alias (`alias/<name>`). */
  createKey(options?: { alias?: string }): KmsTestKey;
  /** New key material for the key; blobs under older material still decrypt (as with KMS rotation). */
  rotateKeyMaterial(keyId: string): void;
  setKeyState(keyId: string, state: KmsKeyState): void;
  fail(failure: KmsFailure, scope?: KmsFailureScope): void;
  heal(): void;
  /** Stops listening: requests get connection refused until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

interface KeyEntry {
  id: string;
  arn: string;
  state: KmsKeyState;
  /** Material by version; the last is current. */
  material: Buffer[];
  createdAt: number;
}

class KmsError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
  }
}

type Json = Record<string, unknown>;

const IV_BYTES = 12;
const TAG_BYTES = 16;

export async function startKmsTestServer(options: { region?: string; accountId?: string } = {}): Promise<KmsTestServer> {
  const region = options.region ?? 'us-east-1';
  const account = options.accountId ?? '111122223333';
  const keys = new Map<string, KeyEntry>();
  const aliases = new Map<string, string>();
  const requests: KmsRecordedRequest[] = [];
  let failure: { failure: KmsFailure; targets?: readonly string[]; remaining: number } | undefined;

  const arnOf = (id: string) => `arn:aws:kms:${region}:${account}:key/${id}`;

  const resolve = (keyId: unknown): KeyEntry => {
    if (typeof keyId !== 'string' || keyId === '') throw new KmsError('ValidationException', 'KeyId is required.');
    let id = keyId;
    const aliasName = keyId.startsWith('alias/') ? keyId : /^arn:aws:kms:[^:]+:[^:]+:(alias\/.+)$/.exec(keyId)?.[1];
    if (aliasName !== undefined) {
      const target = aliases.get(aliasName);
      if (target === undefined) throw new KmsError('NotFoundException', `Alias ${`arn:aws:kms:${region}:${account}:${aliasName}`} is not found.`);
      id = target;
    } else {
      id = /^arn:aws:kms:[^:]+:[^:]+:key\/(.+)$/.exec(keyId)?.[1] ?? keyId;
    }
    const key = keys.get(id);
    if (key === undefined) throw new KmsError('NotFoundException', `Key '${arnOf(id)}' does not exist`);
    return key;
  };

  const usable = (key: KeyEntry): KeyEntry => {
    if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    return key;
  };

  const contextOf = (value: unknown, field: string): Record<string, string> => {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new KmsError('ValidationException', `${field} must be a map.`);
    for (const v of Object.values(value)) {
      if (typeof v !== 'string') throw new KmsError('ValidationException', `${field} values must be strings.`);
    }
    return value as Record<string, string>;
  };

  const contextAad = (header: Buffer, context: Record<string, string>): Buffer => {
    const fields = Object.keys(context).sort().flatMap((k) => [k, context[k]!]);
    return Buffer.concat([header, canonicalAad('kms-test/encryption-context', fields)]);
  };

  const encrypt = (key: KeyEntry, plaintext: Buffer, context: Record<string, string>): Buffer => {
    const version = key.material.length - 1;
    const id = Buffer.from(key.id, 'utf8');
    const header = Buffer.alloc(3 + id.length + 4);
    header.write('K', 0, 'latin1');
    header[1] = 1;
    header[2] = id.length;
    id.copy(header, 3);
    header.writeUInt32BE(version, 3 + id.length);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.material[version]!, iv);
    cipher.setAAD(contextAad(header, context));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), ct]);
  };

  const invalidCiphertext = () => new KmsError('InvalidCiphertextException', '');

  const decrypt = (blob: Buffer, context: Record<string, string>, expectedKeyId: unknown): { key: KeyEntry; plaintext: Buffer } => {
    if (blob.length < 3 || blob.toString('latin1', 0, 1) !== 'K' || blob[1] !== 1) throw invalidCiphertext();
    const idLength = blob[2]!;
    const headerLength = 3 + idLength + 4;
    if (blob.length < headerLength + IV_BYTES + TAG_BYTES) throw invalidCiphertext();
    const header = blob.subarray(0, headerLength);
    const key = keys.get(blob.toString('utf8', 3, 3 + idLength));
    if (key === undefined) throw invalidCiphertext();
    if (expectedKeyId !== undefined && expectedKeyId !== null && resolve(expectedKeyId) !== key) {
      throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
    }
    usable(key);
    const material = key.material[header.readUInt32BE(3 + idLength)];
    if (material === undefined) throw invalidCiphertext();
    const iv = blob.subarray(headerLength, headerLength + IV_BYTES);
    const tag = blob.subarray(headerLength + IV_BYTES, headerLength + IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', material, iv);
      decipher.setAAD(contextAad(header, context));
      decipher.setAuthTag(tag);
      const plaintext = Buffer.concat([decipher.update(blob.subarray(headerLength + IV_BYTES + TAG_BYTES)), decipher.final()]);
      return { key, plaintext };
    } catch {
      throw invalidCiphertext();
    }
  };

  const blobOf = (value: unknown, field: string): Buffer => {
    if (typeof value !== 'string' || value === '') throw new KmsError('ValidationException', `${field} is required.`);
    return Buffer.from(value, 'base64');
  };

  const operations: Record<string, (body: Json) => Json> = {
    GenerateDataKey(body) {
      const key = usable(resolve(body.KeyId));
      const context = contextOf(body.EncryptionContext, 'EncryptionContext');
      const bytes =
        body.KeySpec === 'AES_256' ? 32 : body.KeySpec === 'AES_128' ? 16 : typeof body.NumberOfBytes === 'number' ? body.NumberOfBytes : undefined;
      if (bytes === undefined || bytes < 1 || bytes > 1024) {
        throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
      }
      const plaintext = randomBytes(bytes);
      return {
        CiphertextBlob: encrypt(key, plaintext, context).toString('base64'),
        Plaintext: plaintext.toString('base64'),
        KeyId: key.arn,
      };
    },
    Encrypt(body) {
      const key = usable(resolve(body.KeyId));
      const plaintext = blobOf(body.Plaintext, 'Plaintext');
      const blob = encrypt(key, plaintext, contextOf(body.EncryptionContext, 'EncryptionContext'));
      return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt(body) {
      const blob = blobOf(body.CiphertextBlob, 'CiphertextBlob');
      const { key, plaintext } = decrypt(blob, contextOf(body.EncryptionContext, 'EncryptionContext'), body.KeyId);
      return { Plaintext: plaintext.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    ReEncrypt(body) {
      const destination = usable(resolve(body.DestinationKeyId));
      const blob = blobOf(body.CiphertextBlob, 'CiphertextBlob');
      const source = decrypt(blob, contextOf(body.SourceEncryptionContext, 'SourceEncryptionContext'), body.SourceKeyId);
      const destinationContext = contextOf(body.DestinationEncryptionContext, 'DestinationEncryptionContext');
      const rewrapped = encrypt(destination, source.plaintext, destinationContext);
      source.plaintext.fill(0);
      return {
        CiphertextBlob: rewrapped.toString('base64'),
        SourceKeyId: source.key.arn,
        KeyId: destination.arn,
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    DescribeKey(body) {
      const key = resolve(body.KeyId);
      return {
        KeyMetadata: {
          AWSAccountId: account,
          KeyId: key.id,
          Arn: key.arn,
          CreationDate: key.createdAt / 1000,
          Enabled: key.state === 'Enabled',
          KeyState: key.state,
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
          EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
          KeyManager: 'CUSTOMER',
          Origin: 'AWS_KMS',
          MultiRegion: false,
          Description: '',
        },
      };
    },
  };

  const send = (res: ServerResponse, status: number, body: Json): void => {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(text);
  };

  const record = (target: string, body: Json, signed: boolean): void => {
    const entry: KmsRecordedRequest = { target, signed };
    const keyId = target === 'ReEncrypt' ? body.DestinationKeyId : body.KeyId;
    if (typeof keyId === 'string') entry.keyId = keyId;
    const context = target === 'ReEncrypt' ? body.SourceEncryptionContext : body.EncryptionContext;
    if (context !== undefined && context !== null && typeof context === 'object') entry.encryptionContext = { ...(context as Record<string, string>) };
    if (target === 'ReEncrypt' && typeof body.DestinationEncryptionContext === 'object' && body.DestinationEncryptionContext !== null) {
      entry.destinationEncryptionContext = { ...(body.DestinationEncryptionContext as Record<string, string>) };
    }
    requests.push(entry);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const targetHeader = String(req.headers['x-amz-target'] ?? '');
    const target = targetHeader.startsWith('TrentService.') ? targetHeader.slice('TrentService.'.length) : '';
    let body: Json = {};
    try {
      const parsed: unknown = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Json;
      else throw new Error('not an object');
    } catch {
      send(res, 400, { __type: 'SerializationException', message: 'The request body is not a JSON object.' });
      return;
    }
    const signed = /^AWS4-HMAC-SHA256 Credential=/.test(String(req.headers.authorization ?? ''));
    record(target || targetHeader, body, signed);

    if (failure !== undefined && (failure.targets === undefined || failure.targets.includes(target))) {
      const { failure: f } = failure;
      if (--failure.remaining <= 0) failure = undefined;
      if (f.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (f.kind === 'throttle') return send(res, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
      if (f.kind === 'internal') return send(res, 500, { __type: 'KMSInternalException', message: 'An internal error occurred.' });
      await new Promise((resolve) => setTimeout(resolve, f.delayMs));
    }

    if (req.method !== 'POST' || (req.url ?? '/') !== '/') return send(res, 404, { __type: 'UnknownOperationException', message: '' });
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
      return send(res, 400, { __type: 'SerializationException', message: 'Content-Type must be application/x-amz-json-1.1.' });
    }
    if (!signed) return send(res, 400, { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    const operation = operations[target];
    if (operation === undefined) return send(res, 400, { __type: 'UnknownOperationException', message: '' });
    try {
      send(res, 200, operation(body));
    } catch (error) {
      if (error instanceof KmsError) send(res, error.status, { __type: error.type, message: error.message });
      else send(res, 500, { __type: 'KMSInternalException', message: String(error) });
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 1_000;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  await listen(0);
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    requests,
    createKey(opts = {}) {
      const id = randomUUID();
      keys.set(id, { id, arn: arnOf(id), state: 'Enabled', material: [randomBytes(32)], createdAt: Date.now() });
      if (opts.alias !== undefined) aliases.set(opts.alias.startsWith('alias/') ? opts.alias : `alias/${opts.alias}`, id);
      return { keyId: id, arn: arnOf(id) };
    },
    rotateKeyMaterial(keyId) {
      resolve(keyId).material.push(randomBytes(32));
    },
    setKeyState(keyId, state) {
      resolve(keyId).state = state;
    },
    fail(f, scope = {}) {
      failure = { failure: f, remaining: scope.times ?? Number.POSITIVE_INFINITY, ...(scope.targets ? { targets: scope.targets } : {}) };
    },
    heal() {
      failure = undefined;
    },
    down: stop,
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    close: stop,
  };
}

/**
 * A real KMSClient pointed at the stand-in: dummy credentials, HTTP/1.1 handler, no retries (so a
 * failure is seen at once). `overrides` win.
 */
export function createKmsTestClient(server: Pick<KmsTestServer, 'endpoint' | 'region'>, overrides: Partial<KMSClientConfig> = {}): KMSClient {
  return new KMSClient({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 10_000 }),
    ...overrides,
  });
}
