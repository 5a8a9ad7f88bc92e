/**
 * KMS key provider: data keys come from `GenerateDataKey` (AES_256) and are unwrapped with `Decrypt`,
 * both with `EncryptionContext: { pai_user: <userId> }`, so KMS itself refuses to unwrap one user's key
 * as another's (and CloudTrail names the user on every unwrap). Rotation uses `ReEncrypt`, which moves a
 * data key to the configured key (or to the newest material of the same key) without the plaintext
 * leaving KMS.
 *
 *   wrapped: `kms1:<base64 CiphertextBlob>`   keyId: the ARN KMS reports for the wrapping key
 *
 * The client is injected (region, endpoint, credentials, retries and timeouts are the caller's); SDK
 * errors become `CryptoErrors`.
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  ReEncryptCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { CryptoErrors, ServiceErrors, type PaiError } from '@pai/errors';
import { decodeBase64 } from '../canonical-aad.js';
import { DATA_KEY_BYTES } from '../envelope.js';
import type { GeneratedDataKey, KeyContext, KeyProvider, KeyProviderHealth, RewrappedDataKey } from '../index.js';

export interface KmsKeyProviderOptions {
  client: KMSClient;
  /** Key id, key ARN, alias name (`alias/pai`) or alias ARN of a symmetric encryption key. */
  keyId: string;
  /** Each KMS call is abandoned after this long (default 10 s), so a hung KMS cannot hang requests. */
  requestTimeoutMs?: number;
}

/** The EncryptionContext key naming the user a data key belongs to. */
export const KMS_CONTEXT_USER = 'pai_user';
const PREFIX = 'kms1:';

const CONNECTION_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

interface SdkError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The port's error for an SDK failure while using `keyId`. */
function translate(error: unknown, keyId: string, timeoutMs: number): PaiError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkError;
  const name = typeof e.name === 'string' ? e.name : '';
  const options = { cause: error };
  // Socket failures come as plain errors with a code (a reset one is even named TimeoutError).
  const connection = typeof e.code === 'string' ? CONNECTION_FAILURES[e.code] : undefined;
  if (connection !== undefined) return CryptoErrors.keyUnavailable(`KMS is unreachable (${connection}); try again shortly.`, options);
  switch (name) {
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return CryptoErrors.decryptFailed(options);
    case 'NotFoundException':
      return CryptoErrors.keyUnavailable(
        `KMS key '${keyId}' was not found: check KMS_KEY_ID and the region (or that the key that wrapped this data key still exists).`,
        options,
      );
    case 'DisabledException':
      return CryptoErrors.keyUnavailable(`KMS key '${keyId}' (or the key that wrapped this data key) is disabled: enable it in KMS.`, options);
    case 'KMSInvalidStateException':
      return CryptoErrors.keyUnavailable(
        `KMS key '${keyId}' (or the key that wrapped this data key) is not usable in its current state (e.g. pending deletion): cancel the deletion or use another key.`,
        options,
      );
    case 'AccessDeniedException':
      return CryptoErrors.keyUnavailable(
        `Access to KMS key '${keyId}' was denied: allow kms:GenerateDataKey, kms:Decrypt, kms:ReEncryptFrom, kms:ReEncryptTo and kms:DescribeKey to this service's role.`,
        options,
      );
    case 'InvalidKeyUsageException':
      return CryptoErrors.keyUnavailable(`KMS key '${keyId}' is not a symmetric ENCRYPT_DECRYPT key: set KMS_KEY_ID to one.`, options);
    case 'CredentialsProviderError':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return CryptoErrors.keyUnavailable(`KMS refused this service's AWS credentials (${name}): check the credentials or role.`, options);
    case 'ThrottlingException':
    case 'LimitExceededException':
      return CryptoErrors.keyUnavailable('KMS is throttling requests; try again shortly.', { ...options, headers: { 'Retry-After': '1' } });
    case 'AbortError':
      return CryptoErrors.keyUnavailable(`KMS did not answer within ${timeoutMs} ms; try again shortly.`, options);
    case 'TimeoutError':
      return CryptoErrors.keyUnavailable('KMS did not answer in time; try again shortly.', options);
    case 'KMSInternalException':
    case 'DependencyTimeoutException':
    case 'KeyUnavailableException':
      return CryptoErrors.keyUnavailable(`KMS is unavailable (${name}); try again shortly.`, options);
  }
  const status = e.$metadata?.httpStatusCode;
  if (e.$fault === 'server' || (typeof status === 'number' && status >= 500)) {
    return CryptoErrors.keyUnavailable(`KMS is unavailable (${name || `HTTP ${status}`}); try again shortly.`, options);
  }
  // No HTTP answer at all: a transport failure we have no better words for.
  if (status === undefined && name !== 'TypeError' && name !== 'RangeError') {
    return CryptoErrors.keyUnavailable(`KMS is unreachable (${name || 'unknown error'}); try again shortly.`, options);
  }
  // A request KMS rejected as malformed is a bug here, not an outage.
  return ServiceErrors.internal(options);
}

function wrappedOf(blob: Uint8Array | undefined): string {
  if (blob === undefined || blob.length === 0) throw ServiceErrors.internal({ cause: new Error('KMS answered without a CiphertextBlob') });
  return PREFIX + Buffer.from(blob).toString('base64');
}

function blobOf(wrapped: string): Uint8Array {
  if (typeof wrapped === 'string' && wrapped.startsWith('lk1:')) {
    throw CryptoErrors.keyUnavailable(
      'This data key was wrapped by the local master key, but the KMS key provider is configured: set KEY_PROVIDER=local with that master key.',
    );
  }
  const blob = typeof wrapped === 'string' && wrapped.startsWith(PREFIX) ? decodeBase64(wrapped.slice(PREFIX.length)) : undefined;
  if (blob === undefined || blob.length === 0) throw CryptoErrors.decryptFailed();
  return blob;
}

/** Copies the key out of the SDK's buffer and wipes that one. */
function dataKeyOf(plaintext: Uint8Array | undefined): Buffer {
  if (plaintext === undefined || plaintext.length !== DATA_KEY_BYTES) {
    throw ServiceErrors.internal({ cause: new Error(`KMS answered with a ${plaintext?.length ?? 0}-byte data key`) });
  }
  const copy = Buffer.from(plaintext);
  plaintext.fill(0);
  return copy;
}

export function createKmsKeyProvider(options: KmsKeyProviderOptions): KeyProvider {
  const { client, keyId } = options;
  if (typeof keyId !== 'string' || keyId.trim() === '') throw new TypeError('createKmsKeyProvider needs a keyId');
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const contextOf = (context: KeyContext) => ({ [KMS_CONTEXT_USER]: context.userId });

  const call = async <T>(send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await send(AbortSignal.timeout(timeoutMs));
    } catch (error) {
      throw translate(error, keyId, timeoutMs);
    }
  };

  return {
    async generateDataKey(context) {
      const out = await call((abortSignal) =>
        client.send(
          new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: contextOf(context) }),
          { abortSignal },
        ),
      );
      const result: GeneratedDataKey = {
        plaintext: dataKeyOf(out.Plaintext),
        wrapped: wrappedOf(out.CiphertextBlob),
        keyId: out.KeyId ?? keyId,
      };
      return result;
    },

    async decrypt(wrapped, context) {
      const CiphertextBlob = blobOf(wrapped);
      // No KeyId: the blob names its key, so data keys wrapped under a previous KMS key still unwrap.
      const out = await call((abortSignal) =>
        client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: contextOf(context) }), { abortSignal }),
      );
      return dataKeyOf(out.Plaintext);
    },

    async rewrap(wrapped, context): Promise<RewrappedDataKey> {
      const CiphertextBlob = blobOf(wrapped);
      const out = await call((abortSignal) =>
        client.send(
          new ReEncryptCommand({
            CiphertextBlob,
            SourceEncryptionContext: contextOf(context),
            DestinationKeyId: keyId,
            DestinationEncryptionContext: contextOf(context),
          }),
          { abortSignal },
        ),
      );
      return { wrapped: wrappedOf(out.CiphertextBlob), keyId: out.KeyId ?? keyId };
    },

    describe: () => ({ kind: 'kms', keyId }),

    async check(): Promise<KeyProviderHealth> {
      try {
        const out = await call((abortSignal) => client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }));
        const state = out.KeyMetadata?.KeyState;
        if (state !== 'Enabled') return { ok: false, reason: `KMS key '${keyId}' is ${state ?? 'in an unknown state'}; it must be Enabled.` };
        if (out.KeyMetadata?.KeyUsage !== undefined && out.KeyMetadata.KeyUsage !== 'ENCRYPT_DECRYPT') {
          return { ok: false, reason: `KMS key '${keyId}' is a ${out.KeyMetadata.KeyUsage} key; it must be ENCRYPT_DECRYPT.` };
        }
        return { ok: true };
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
