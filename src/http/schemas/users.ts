import { Type } from '../../lib/type.ts';
import { Nullable } from './common.ts';

export const UserBody = Type.Object({
  id: Type.Integer(),
  uuid: Type.String({ format: 'uuid' }),
  username: Type.String(),
  role: Type.Union([Type.Literal('admin'), Type.Literal('user')]),
  disabled: Type.Boolean(),
  plan_id: Nullable(Type.Integer()),
  created_at: Type.String({ format: 'date-time' }),
});
