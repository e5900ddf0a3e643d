/**
 * The part of ali-oss (6.x, no bundled types) that storage/oss.ts uses. Node's ESM loader hands a
 * CommonJS `module.exports` over as the default export, hence `export default`.
 */
declare module 'ali-oss' {
  import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
  import type { Agent } from 'node:http';
  import type { Agent as HttpsAgent } from 'node:https';

  interface ClientOptions {
    accessKeyId: string;
    accessKeySecret: string;
    stsToken?: string;
    bucket?: string;
    endpoint?: string;
    cname?: boolean;
    region?: string;
    secure?: boolean;
    /** Milliseconds per request (connect and response head). */
    timeout?: number;
    retryMax?: number;
    agent?: Agent;
    httpsAgent?: HttpsAgent;
    refreshSTSToken?: () => Promise<{ accessKeyId: string; accessKeySecret: string; stsToken: string }>;
    refreshSTSTokenInterval?: number;
  }

  interface ResponseInfo {
    status: number;
    headers: IncomingHttpHeaders & Record<string, string | undefined>;
  }

  interface RequestOptions {
    headers?: Record<string, string | number>;
    timeout?: number;
    mime?: string;
  }

  interface ListV2Object {
    name: string;
    lastModified: string;
    etag: string;
    size: number;
  }

  /** Errors carry the OSS error code (`SignatureDoesNotMatch`) or a network name, and the HTTP status (-1 network, -2 timeout). */
  export interface OssError extends Error {
    status?: number;
    code?: string;
    requestId?: string;
  }

  export default class OSS {
    constructor(options: ClientOptions);
    options: { bucket: string | null };
    put(name: string, file: Buffer | string, options?: RequestOptions): Promise<{ name: string; res: ResponseInfo }>;
    getStream(name: string, options?: RequestOptions): Promise<{ stream: IncomingMessage; res: ResponseInfo }>;
    head(name: string, options?: RequestOptions): Promise<{ status: number; res: ResponseInfo }>;
    delete(name: string, options?: RequestOptions): Promise<{ res: ResponseInfo }>;
    listV2(
      query: { prefix?: string; 'max-keys'?: number | string; 'continuation-token'?: string; 'start-after'?: string; delimiter?: string },
      options?: RequestOptions,
    ): Promise<{ objects: ListV2Object[]; isTruncated: boolean; nextContinuationToken: string | null; res: ResponseInfo }>;
    initMultipartUpload(name: string, options?: RequestOptions): Promise<{ uploadId: string; res: ResponseInfo }>;
    uploadPart(
      name: string,
      uploadId: string,
      partNo: number,
      file: Buffer | string,
      start: number,
      end: number,
      options?: RequestOptions,
    ): Promise<{ name: string; etag: string; res: ResponseInfo }>;
    completeMultipartUpload(
      name: string,
      uploadId: string,
      parts: { number: number; etag: string }[],
      options?: RequestOptions,
    ): Promise<{ etag: string; res: ResponseInfo }>;
    abortMultipartUpload(name: string, uploadId: string, options?: RequestOptions): Promise<{ res: ResponseInfo }>;
    listUploads(
      query: { prefix?: string; 'max-uploads'?: number; 'key-marker'?: string; 'upload-id-marker'?: string },
      options?: RequestOptions,
    ): Promise<{
      uploads: { name: string; uploadId: string; initiated: string }[];
      isTruncated: boolean;
      nextKeyMarker?: string;
      nextUploadIdMarker?: string;
      res: ResponseInfo;
    }>;
    signatureUrl(name: string, options?: { expires?: number; method?: string }): string;
  }
}
