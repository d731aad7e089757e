// The roost daemon: loads config, prepares the data directory, certificates and demo user,
// starts every service, drops privileges, and handles SIGTERM/SIGINT (graceful stop) and SIGHUP (reload).
import { mkdirSync } from 'node:fs';
import { hostname as systemHostName } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { TlsContexts } from '../tls/contexts.js';
import { Server } from './server.js';
import { isLoopback } from '../lib/networks.js';
import { getLogger } from '../lib/logger.js';
import type { ServerContext } from './context.js';
import { buildServices } from './services.js';
import { AuthService } from '../auth/service.js';
import { ensureDemoUser, hasDemoUser } from '../auth/demo-user.js';
import { dropPrivileges } from './privileges.js';
import { aliasDbPath } from '../mta/aliases.js';

const log = getLogger({ component: 'daemon' });

export interface DaemonOptions {
  dataDir: string;
  config: Config;
  configFile?: string;
}

function listensBeyondLoopback(config: Config): boolean {
  return config.server.listen.some((a) => !isLoopback(a));
}

export class Daemon {
  private constructor(
    readonly context: ServerContext,
    readonly server: Server,
    private configFile: string | undefined,
  ) {}

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const { dataDir, config } = opts;
    mkdirSync(join(dataDir, 'run'), { recursive: true });
    const hostName = config.server.hostname || systemHostName();

    const demo = await ensureDemoUser(dataDir, config);
    if (demo.created) {
      process.stdout.write(
        `\nRoost created a demo user because ${join(dataDir, config.auth.passwd_file)} had no users:\n` +
          `    user: ${demo.user}\n    password: ${demo.password}\n` +
          `This password is shown only now. Add real users with: roost user add NAME --data ${dataDir}\n` +
          `then remove the demo user with: roost user del ${demo.user} --data ${dataDir}\n\n`,
      );
    }
    if (listensBeyondLoopback(config) && hasDemoUser(dataDir, config)) {
      throw new Error(
        `refusing to listen on ${config.server.listen.join(', ')}: the demo user still exists. ` +
          `Remove it (roost user del demo) before listening beyond loopback.`,
      );
    }

    const tls = new TlsContexts(config, dataDir, hostName);
    const auth = await AuthService.create(config, dataDir);
    const context: ServerContext = {
      config,
      dataDir,
      hostName,
      tls,
      auth,
      storage: { dataDir, defaultMailLocation: config.mail.mail_location, fsync: config.mail.mail_fsync },
      dataPath: (p) => (isAbsolute(p) ? p : join(dataDir, p)),
    };
    const server = new Server(
      config.server.listen,
      { maxConnections: config.server.max_connections, maxConnectionsPerIp: config.server.max_connections_per_ip },
      tls,
      (ip, tls) => auth.isSecured(ip, tls),
    );
    await server.start(buildServices(context));
    if (config.server.mail_user) {
      // The compiled aliases inside the data directory too: the mail user opens them (LMDB readers need the lock file).
      const aliases = isAbsolute(config.smtp.alias_maps) ? [] : [aliasDbPath(config.smtp.alias_maps)];
      dropPrivileges(config.server.mail_user, dataDir, ['run', 'certs', 'tmp', 'index', 'mail', 'queue', config.auth.passwd_file, ...aliases]);
    }
    const daemon = new Daemon(context, server, opts.configFile);
    // The Node options say whether the daemon runs as package.json's start script and the systemd unit start it.
    log.info({ listeners: server.bound, certificate: tls.certFile, node: process.version, nodeOptions: process.execArgv }, 'ready');
    return daemon;
  }

  /** SIGHUP: re-reads the config file and certificates; listeners and sessions stay. */
  reload(): void {
    try {
      const { config } = this.configFile ? loadConfig(this.configFile) : { config: this.context.config };
      this.context.tls.load(config);
      this.server.limits = { maxConnections: config.server.max_connections, maxConnectionsPerIp: config.server.max_connections_per_ip };
      log.info({ certificate: this.context.tls.certFile }, 'reloaded configuration and certificates');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reload failed; keeping the running configuration');
    }
  }

  async stop(): Promise<void> {
    log.info({ connections: this.server.connectionCount }, 'shutting down');
    await this.server.shutdown(this.context.config.server.shutdown_grace);
    await this.context.auth.close();
  }

  /** Installs the signal handlers of a daemon process. */
  handleSignals(): void {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      this.stop().then(
        () => process.exit(0),
        (err) => {
          log.error({ err: (err as Error).message }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => this.reload());
  }
}
