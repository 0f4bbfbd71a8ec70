import multipart from '@fastify/multipart';
import { Type } from '../../../lib/type.ts';
import { AppError, invalid } from '../../../domain/errors.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, ErrorBody } from '../../schemas/common.ts';
import { FileBody, FileParams, SessionReference, UploadBody, UploadReply } from '../../schemas/files.ts';

const uploadErrors = { 413: ErrorBody, 415: ErrorBody, 422: ErrorBody };

/**
 * The multipart parser throws plain errors for a body it cannot read (no boundary, cut short):
 * the client's fault, so a 400 naming the body, not a 500.
 */
const malformedMultipart = (error: unknown): never => {
  if (error instanceof AppError) throw error;
  throw invalid('body', `is not a complete multipart/form-data body (${(error as Error).message})`);
};

/** A Content-Disposition that no file name can break out of (RFC 6266, with RFC 5987's UTF-8 form). */
const attachment = (filename: string) =>
  `attachment; filename="${filename.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}`;

/**
 * The chat-API dialect's file upload (a PDF as context for a session) and the routes users expect beside it:
 * list, read, download and delete a session's files. Multipart is accepted by these routes only;
 * every other route keeps answering 415 to it.
 */
export function registerFilesRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['files (the chat-API dialect)'];
  const maxBytes = services.config.uploadMaxBytes;

  void app.register(async (scope: App) => {
    await scope.register(multipart, {
      limits: { fileSize: maxBytes, files: 1, fields: 5, fieldSize: 1024, parts: 6, headerPairs: 100 },
    });

    scope.post(
      '/api/chat/sessions/:session_id/upload',
      {
        ...base,
        // The multipart stream is read by the handler; the schema below documents it.
        preValidation: async (request) => {
          if (request.isMultipart()) request.body = {};
        },
        schema: {
          tags,
          security,
          summary: 'Upload a PDF to a session: its text is extracted and used as context by the next completions there',
          description: `multipart/form-data with the field \`file\`. PDF only (checked by content: 415 otherwise), at most ${maxBytes} bytes (413). An encrypted, damaged or textless PDF is a 422.`,
          consumes: ['multipart/form-data'],
          params: Type.Object({ session_id: SessionReference }),
          body: UploadBody,
          response: { 200: UploadReply, ...authErrors, ...uploadErrors },
        },
      },
      async (request) => {
        if (!request.isMultipart())
          throw new AppError('unsupported_media_type', 'Send the file as multipart/form-data, in a field named "file"');
        const part = await request.file().catch(malformedMultipart);
        if (part?.fieldname !== 'file')
          throw invalid('file', 'is required: a multipart field named "file" holding the PDF');
        // Answered as soon as the limit is crossed, with Connection: close, so the rest of an
        // oversized upload is not read (the parser would otherwise skip to its end first).
        const tooLarge = () =>
          new AppError('payload_too_large', `file: larger than ${maxBytes} bytes, the most an upload may be`, {
            field: 'file',
            headers: { connection: 'close' },
          });
        const data = await new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          part.file.on('data', (chunk: Buffer) => chunks.push(chunk));
          part.file.once('limit', () => {
            chunks.length = 0;
            reject(tooLarge());
          });
          part.file.once('end', () => (part.file.truncated ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
          part.file.once('error', reject);
        }).catch(malformedMultipart);
        const file = await services.documents.upload(principalOf(request), request.params.session_id, {
          filename: part.filename,
          data,
        });
        return { file, message: 'File uploaded successfully' };
      },
    );
  });

  app.get(
    '/api/chat/sessions/:session_id/files',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "A session's files, oldest first (without their text)",
        params: Type.Object({ session_id: SessionReference }),
        response: { 200: Type.Object({ files: Type.Array(FileBody) }), ...authErrors },
      },
    },
    async (request) => ({ files: await services.documents.list(principalOf(request), request.params.session_id) }),
  );

  app.get(
    '/api/chat/sessions/:session_id/files/:file_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'One file of a session, with its extracted text',
        params: FileParams,
        response: { 200: FileBody, ...authErrors },
      },
    },
    async (request) => services.documents.get(principalOf(request), request.params.session_id, request.params.file_id),
  );

  app.get(
    '/api/chat/sessions/:session_id/files/:file_id/content',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Download the file as uploaded (always as an attachment, never rendered by the browser)',
        params: FileParams,
        response: {
          200: {
            description: 'The PDF',
            content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
          },
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const { filename, data } = await services.documents.content(
        principalOf(request),
        request.params.session_id,
        request.params.file_id,
      );
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', attachment(filename))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cache-control', 'private, no-store')
        .send(data as unknown as string);
    },
  );

  app.delete(
    '/api/chat/sessions/:session_id/files/:file_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete a file: it stops being context for the session at once',
        params: FileParams,
        response: { 200: Type.Object({ message: Type.String() }), ...authErrors },
      },
    },
    async (request) => {
      await services.documents.delete(principalOf(request), request.params.session_id, request.params.file_id);
      return { message: 'File deleted successfully' };
    },
  );
}
