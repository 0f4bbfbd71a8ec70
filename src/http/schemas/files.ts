import { Type } from '../../lib/type.ts';

/** The chat-API dialect's file shapes ("File Upload API"). */
export const SessionReference = Type.String({
  pattern: '^([1-9][0-9]{0,14}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$',
  description: 'The session id (an integer; the UUID is accepted too)',
});

export const FileParams = Type.Object({
  session_id: SessionReference,
  file_id: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
});

export const FileBody = Type.Object({
  id: Type.Integer(),
  filename: Type.String(),
  file_size: Type.Integer({ description: 'Bytes' }),
  mime_type: Type.String(),
  extracted_text: Type.Optional(
    Type.String({ description: 'The text read from the PDF, pages separated by a blank line' }),
  ),
  metadata: Type.Object({
    page_count: Type.Integer(),
    pages_extracted: Type.Integer({
      description: 'Pages whose text was read (fewer than page_count when a limit cut it)',
    }),
    truncated: Type.Union([Type.Literal('pages'), Type.Literal('time'), Type.Null()], {
      description: 'Why the text stops early (page or time limit), or null',
    }),
  }),
  session_id: Type.Integer(),
  chunk_count: Type.Integer({ description: 'Chunks the text was cut into for use as context' }),
  created_at: Type.String({ format: 'date-time' }),
});

export const UploadBody = Type.Object(
  {
    file: Type.Optional(
      Type.String({ format: 'binary', description: 'The PDF (content checked: it must start with %PDF-)' }),
    ),
  },
  { description: 'multipart/form-data with one field, `file`' },
);

export const UploadReply = Type.Object({ file: FileBody, message: Type.String() });
