// Dovecot's auth client protocol (auth-client-connection.c, lib-auth/auth-client-request.c) served on
// run/auth-client and TCP: handshake VERSION/MECH/SPID/CUID/COOKIE/DONE; AUTH, CONT, CANCEL; replies CONT, OK, FAIL.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AuthService } from '../../auth/service.js';
import type { ClientInfo, SaslExchange, SaslStep } from '../../auth/types.js';
import { getLogger } from '../../lib/logger.js';
import { decodeBase64, readLines, tabEscape, tabUnescape, writeLine } from './wire.js';

const log = getLogger({ component: 'auth-client' });

export const AUTH_CLIENT_PROTOCOL_MAJOR = 1;
export const AUTH_CLIENT_PROTOCOL_MINOR = 2;
/** Dovecot's AUTH_CLIENT_MAX_LINE_LENGTH. */
export const AUTH_CLIENT_MAX_LINE_LENGTH = 16384;
const MAX_PENDING_REQUESTS = 100;

export interface AuthClientOptions {
  maxLineLength?: number;
  /** Server process id sent as SPID (default: this process). */
  pid?: number;
}

let nextConnectionUid = 1;

interface PendingRequest {
  exchange: SaslExchange;
  /** A success carrying final data waits for the client's empty CONT when final-resp-ok was not given. */
  successAfterCont?: Extract<SaslStep, { kind: 'success' }>;
  finalRespOk: boolean;
  busy: boolean;
}

/** Serves one auth-client connection until it closes; protocol errors close it, never the process. */
export function serveAuthClient(socket: Socket, auth: AuthService, opts: AuthClientOptions = {}): void {
  const maxLine = opts.maxLineLength ?? AUTH_CLIENT_MAX_LINE_LENGTH;
  const cuid = nextConnectionUid++;
  const requests = new Map<string, PendingRequest>();
  let versionSeen = false;
  let clientPid: string | undefined;

  const send = (...fields: string[]) => writeLine(socket, fields);
  const disconnect = (why: string) => {
    log.warn({ cuid, clientPid, reason: why }, 'auth client protocol error; disconnecting');
    for (const r of requests.values()) r.exchange.cancel();
    requests.clear();
    socket.end();
    socket.destroySoon?.();
  };

  socket.on('error', (err) => log.debug({ cuid, err: err.message }, 'auth client socket error'));
  socket.on('close', () => {
    for (const r of requests.values()) r.exchange.cancel();
    requests.clear();
  });

  // Handshake, all at connect (the client may send its VERSION at the same time).
  send('VERSION', String(AUTH_CLIENT_PROTOCOL_MAJOR), String(AUTH_CLIENT_PROTOCOL_MINOR));
  for (const mech of auth.configuredMechanisms()) send('MECH', mech.name, ...mech.flags);
  send('SPID', String(opts.pid ?? process.pid));
  send('CUID', String(cuid));
  send('COOKIE', randomBytes(16).toString('hex'));
  send('DONE');

  const reply = (id: string, request: PendingRequest, step: SaslStep) => {
    if (socket.destroyed) return;
    if (step.kind === 'challenge') {
      send('CONT', id, step.data.toString('base64'));
      return;
    }
    if (step.kind === 'success') {
      if (step.data && step.data.length > 0 && !request.finalRespOk) {
        request.successAfterCont = step;
        send('CONT', id, step.data.toString('base64'));
        return;
      }
      requests.delete(id);
      const fields = ['OK', id, `user=${tabEscape(step.user.user)}`];
      if (step.masterUser) fields.push(`auth_user=${tabEscape(step.masterUser)}`);
      if (step.data && step.data.length > 0) fields.push(`resp=${step.data.toString('base64')}`);
      send(...fields);
      return;
    }
    requests.delete(id);
    send(...(step.temporary ? ['FAIL', id, 'temp'] : ['FAIL', id]));
  };

  const run = (id: string, request: PendingRequest, response: Buffer | undefined) => {
    request.busy = true;
    request.exchange
      .step(response)
      .then(
        (step) => reply(id, request, step),
        (err: Error) => {
          log.error({ cuid, id, err: err.message }, 'auth request failed unexpectedly');
          reply(id, request, { kind: 'failure', temporary: true, reason: err.message });
        },
      )
      .finally(() => {
        request.busy = false;
      });
  };

  const handleAuth = (args: string[]) => {
    const [id, mech, ...params] = args;
    if (!id || !/^\d+$/.test(id) || !mech) return disconnect('broken AUTH');
    if (requests.has(id)) return disconnect(`duplicate AUTH id ${id}`);
    if (requests.size >= MAX_PENDING_REQUESTS) {
      send('FAIL', id, 'temp', 'reason=Too many pending requests');
      return;
    }
    const fields: Record<string, string> = {};
    const flags = new Set<string>();
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) flags.add(p);
      else fields[p.slice(0, eq)] = tabUnescape(p.slice(eq + 1));
    }
    let initial: Buffer | undefined;
    if (fields.resp !== undefined) {
      initial = decodeBase64(fields.resp);
      if (!initial) {
        send('FAIL', id, 'reason=Invalid base64 data in initial response');
        return;
      }
    }
    const remoteIp = fields.rip ?? '';
    const info: ClientInfo = {
      service: fields.service || 'unknown',
      remoteIp,
      localIp: fields.lip,
      remotePort: fields.rport ? Number(fields.rport) : undefined,
      localPort: fields.lport ? Number(fields.lport) : undefined,
      secured: auth.isSecured(remoteIp, flags.has('secured')),
      sessionId: fields.session,
      noPenalty: flags.has('no-penalty'),
    };
    const request: PendingRequest = { exchange: auth.begin(mech, info), finalRespOk: flags.has('final-resp-ok'), busy: false };
    requests.set(id, request);
    run(id, request, initial);
  };

  const handleCont = (args: string[]) => {
    const [id, data = ''] = args;
    if (!id || !/^\d+$/.test(id)) return disconnect('broken CONT');
    const request = requests.get(id);
    if (!request) {
      send('FAIL', id, 'reason=Authentication request not found');
      return;
    }
    if (request.busy) {
      requests.delete(id);
      request.exchange.cancel();
      send('FAIL', id, 'reason=CONT before the previous reply');
      return;
    }
    const response = decodeBase64(data);
    if (!response) {
      requests.delete(id);
      request.exchange.cancel();
      send('FAIL', id, 'reason=Invalid base64 data in continued response');
      return;
    }
    if (request.successAfterCont) {
      const success = request.successAfterCont;
      request.successAfterCont = undefined;
      reply(id, request, { ...success, data: undefined });
      return;
    }
    run(id, request, response);
  };

  readLines(
    socket,
    maxLine,
    (line) => {
      const args = line.split('\t');
      const command = args.shift()!;
      if (!versionSeen) {
        if (command !== 'VERSION' || args[0] !== String(AUTH_CLIENT_PROTOCOL_MAJOR)) return disconnect('expected VERSION 1.x first');
        versionSeen = true;
        return;
      }
      switch (command) {
        case 'CPID':
          if (!args[0] || !/^\d+$/.test(args[0])) return disconnect('broken CPID');
          clientPid = args[0];
          return;
        case 'AUTH':
          return handleAuth(args);
        case 'CONT':
          return handleCont(args);
        case 'CANCEL': {
          const r = args[0] ? requests.get(args[0]) : undefined;
          if (r) {
            r.exchange.cancel();
            requests.delete(args[0]);
          }
          return;
        }
        default:
          return disconnect(`unknown command ${command.slice(0, 32)}`);
      }
    },
    () => disconnect(`line longer than ${maxLine} bytes`),
  );
}
