// What every protocol service is built from: the validated config, the data directory and host
// name, the TLS contexts, the auth service and the storage options (one per daemon).
import type { Config } from '../config/schema.js';
import type { TlsContexts } from '../tls/contexts.js';
import type { AuthService } from '../auth/service.js';
import type { StorageOptions } from '../storage/api.js';

export interface ServerContext {
  config: Config;
  dataDir: string;
  hostName: string;
  tls: TlsContexts;
  auth: AuthService;
  /** How users' mail stores are opened (mail_location default, fsync). */
  storage: StorageOptions;
  /** Absolute path of a file or socket named relative to the data directory in the config. */
  dataPath(relative: string): string;
}
