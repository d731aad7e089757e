// [log]: where and how Roost logs (pino, one structured line per event; stdout for journald).
import { oneOf, section } from '../define.js';

export const logSection = section('Logging.', {
  level: oneOf('info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, 'Least severe level written.'),
  format: oneOf('json', ['json', 'pretty'] as const, 'Line format on stdout.'),
});
